from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from tenants.timestamps import connect_timestamp_loader

        connect_timestamp_loader()
