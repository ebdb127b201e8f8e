from django.apps import AppConfig
from django.conf import settings


class OperationsConfig(AppConfig):
    name = "operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Signal receivers: Celery task headers, database error counting.
        from operations import celery_context, metrics

        celery_context.connect()
        metrics.connect_database_errors()
        if settings.OTEL_ENABLED:
            from operations.tracing import tracing_configure

            tracing_configure(settings.OTEL_SERVICE_NAME)
