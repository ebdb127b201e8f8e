"""manage.py agent_apply <file> --tenant <slug>: deploy an agent definition (YAML or JSON).

The same document as PUT /api/v1/agents/{slug}/definition, through the same service; the
slug comes from the file's `slug` (or --slug). Run it from CI on every push of a repository
of agent files: a file that matches the draft changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError

from hosted_agents.services.definitions import AgentDefinition, agent_definition_apply
from tenants.actors import Actor
from tenants.exceptions import DomainError
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Create or update an agent's draft from a definition file; --publish publishes it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument("--slug", help="the agent's slug (default: the file's `slug`)")
        parser.add_argument("--publish", action="store_true")
        parser.add_argument("--dry-run", action="store_true", help="print the diff only")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
            definition = AgentDefinition.model_validate(data)
        except (OSError, ValueError, yaml.YAMLError) as error:
            raise CommandError(f"{path}: {_first_line(error)}") from None
        slug = options["slug"] or definition.slug
        if not slug:
            raise CommandError(f"{path}: give the agent's slug in the file or with --slug")
        try:
            applied = agent_definition_apply(
                tenant=tenant_get(slug=options["tenant"]), slug=slug, definition=definition,
                publish=options["publish"], dry_run=options["dry_run"],
                actor=Actor.system(label="manage.py agent_apply"),
            )  # fmt: skip
        except DomainError as error:
            raise CommandError(f"{path}: {error}") from None
        verb = "would change" if applied.dry_run else ("created" if applied.created else "changed")
        for change in applied.changes:
            self.stdout.write(f"  {change['field']}: {change['before']!r} -> {change['after']!r}")
        self.stdout.write(f"{slug}: {verb} {len(applied.changes)} field(s)")
        if applied.published_version is not None:
            self.stdout.write(f"{slug}: published version {applied.published_version}")


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(error).splitlines()[0]
