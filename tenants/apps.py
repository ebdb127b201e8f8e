from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from tenants.stale_plans import connect_stale_plan_recovery
        from tenants.timestamps import connect_timestamp_loader

        connect_timestamp_loader()
        connect_stale_plan_recovery()
