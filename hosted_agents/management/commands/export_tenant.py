from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hosted_agents.tenant_export import tenant_export
from tenants.exceptions import DomainError
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = (
        "Write a zip of everything a tenant owns (settings, members, agents and versions, "
        "tools, keys' metadata, threads, items, attachments, usage, audit); no secret or hash."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument("--output", "-o", help="the zip to write (default <tenant>.zip)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get(slug=options["tenant"])
        except DomainError as error:
            raise CommandError(str(error)) from None
        path = Path(options["output"] or f"{tenant.slug}.zip")
        if path.exists():
            raise CommandError(f"{path} exists; name another file with --output")
        with path.open("xb") as file:
            summary = tenant_export(tenant=tenant, file=file)
        rows = sum(summary.counts.values())
        self.stdout.write(self.style.SUCCESS(f"Wrote {path}: {rows} rows of tenant {tenant.slug}."))
