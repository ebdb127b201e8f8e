from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.actors import Actor
from tenants.exceptions import DomainError
from tenants.selectors import tenant_get
from tenants.services import tenant_deletion_schedule

ACTOR = Actor.system(label="manage.py delete_tenant")


class Command(BaseCommand):
    help = (
        "Suspend a tenant now and delete it, with everything it owns, after a grace period "
        "(cancel meanwhile with cancel_tenant_deletion)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument(
            "--grace-days",
            type=int,
            default=None,
            help=f"days before the purge (default TENANT_DELETION_GRACE_DAYS, "
            f"now {settings.TENANT_DELETION_GRACE_DAYS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"])
            tenant = tenant_deletion_schedule(
                tenant=tenant, grace_days=options["grace_days"], actor=ACTOR
            )
        except DomainError as error:
            raise CommandError(str(error)) from None
        due = tenant.deletion_due_at.isoformat() if tenant.deletion_due_at else "?"
        self.stdout.write(
            self.style.SUCCESS(
                f"Tenant {tenant.slug} is suspended and will be deleted after {due}."
            )
        )
