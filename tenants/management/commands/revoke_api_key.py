from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.actors import Actor
from tenants.exceptions import DomainError
from tenants.selectors import tenant_get
from tenants.services import api_key_revoke

# Commands run as the platform; the label says which one made the change.
ACTOR = Actor.system(label="manage.py revoke_api_key")


class Command(BaseCommand):
    help = "Revoke an API key of a tenant; it stops working at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument("key_id", type=int, help="the key's id, as printed at creation")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"])
            key = api_key_revoke(tenant=tenant, key_id=options["key_id"], actor=ACTOR)
        except DomainError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"Revoked key {key.pk} '{key.name}' ({key.display})."))
