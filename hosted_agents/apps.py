from django.apps import AppConfig


class HostedAgentsConfig(AppConfig):
    name = "hosted_agents"
    verbose_name = "Agents, tools and their runtime"
