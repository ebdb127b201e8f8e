from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.actors import Actor
from tenants.exceptions import DomainError
from tenants.selectors import tenant_get
from tenants.services import tenant_deletion_cancel

ACTOR = Actor.system(label="manage.py cancel_tenant_deletion")


class Command(BaseCommand):
    help = "Cancel a tenant's scheduled deletion; it gets back the status it had."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="tenant slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_deletion_cancel(tenant=tenant_get(slug=options["tenant"]), actor=ACTOR)
        except DomainError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"The deletion of {tenant.slug} is cancelled; it is {tenant.status}."
            )
        )
