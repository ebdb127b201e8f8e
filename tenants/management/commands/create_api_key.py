from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tenants.actors import Actor
from tenants.exceptions import DomainError
from tenants.models import ApiKey
from tenants.selectors import tenant_get
from tenants.services import api_key_create

# Commands run as the platform; the label says which one made the change.
ACTOR = Actor.system(label="manage.py create_api_key")


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once; it cannot be shown again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument("name", help="what the key is for, like 'production backend'")
        parser.add_argument(
            "--scope",
            action="append",
            choices=ApiKey.Scope.values,
            dest="scopes",
            help="repeat for several scopes (default: chat)",
        )
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["expires_in_days"]
        expires_at = timezone.now() + timedelta(days=days) if days is not None else None
        try:
            tenant = tenant_get(slug=options["tenant"])
            issued = api_key_create(
                tenant=tenant,
                name=options["name"],
                scopes=options["scopes"] or [ApiKey.Scope.CHAT],
                expires_at=expires_at,
                actor=ACTOR,
            )
        except DomainError as error:
            raise CommandError(str(error)) from None
        key = issued.api_key
        self.stderr.write(
            f"Created key {key.pk} '{key.name}' for {tenant.slug} "
            f"(scopes: {', '.join(key.scopes)}). Store it now; it is not shown again:"
        )
        self.stdout.write(issued.raw)
