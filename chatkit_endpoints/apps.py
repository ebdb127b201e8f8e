from django.apps import AppConfig


class ChatkitEndpointsConfig(AppConfig):
    name = "chatkit_endpoints"
    verbose_name = "ChatKit endpoints"
