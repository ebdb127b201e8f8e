"""Export everything one tenant owns as a zip of JSON Lines files, for the operator.

    manifest.json       the tenant, when, and the number of rows in each file
    tenant.jsonl        the tenant's own settings
    members.jsonl       memberships with the user's name and email (never a password)
    <table>.jsonl       one file per tenant-owned table (see `EXPORTED`)

Secrets never leave: encrypted fields (provider keys, HTTP tool headers) and stored hashes
(API keys, client secrets) are left out of every row. Uploaded attachment files are written
under `attachment_files/<attachment id>/<file name>`, beside their rows. Every row comes
through the tenant's scope, so nothing of another tenant can appear.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from hosted_agents.models import (
    AgentCapabilities,
    AgentVersion,
    ClientTool,
    HttpTool,
    McpServer,
    PendingApproval,
    RunSpan,
    ToolCall,
    UsageDaily,
)
from hosted_agents.models.agents import Agent
from tenants.encryption import EncryptedField
from tenants.models import (
    ApiKey,
    Attachment,
    AuditEvent,
    ClientSession,
    Feedback,
    IdempotencyKey,
    Membership,
    ProviderCredential,
    Tenant,
    TenantOwnedModel,
    Thread,
    ThreadItem,
)

__all__ = ["EXPORTED", "NOT_EXPORTED", "ExportSummary", "tenant_export"]

# File name (without .jsonl) and model, in the order written.
EXPORTED: list[tuple[str, type[TenantOwnedModel]]] = [
    ("agents", Agent),
    ("agent_versions", AgentVersion),
    ("http_tools", HttpTool),
    ("client_tools", ClientTool),
    ("mcp_servers", McpServer),
    ("agent_capabilities", AgentCapabilities),
    ("provider_credentials", ProviderCredential),
    ("api_keys", ApiKey),
    ("client_sessions", ClientSession),
    ("threads", Thread),
    ("thread_items", ThreadItem),
    ("attachments", Attachment),
    ("feedback", Feedback),
    ("tool_calls", ToolCall),
    ("run_spans", RunSpan),
    ("pending_approvals", PendingApproval),
    ("usage_daily", UsageDaily),
    ("audit_events", AuditEvent),
]
# Tenant-owned tables left out on purpose, and why.
NOT_EXPORTED: dict[type[TenantOwnedModel], str] = {
    Membership: "written as members.jsonl, with the user's name and email",
    IdempotencyKey: "replay records of API requests, kept for a day; nothing of the tenant's own",
}
_HASHES = frozenset({"key_hash", "secret_hash", "request_hash"})


@dataclass
class ExportSummary:
    tenant: str
    counts: dict[str, int] = field(default_factory=dict)


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if not isinstance(f, EncryptedField) and f.name not in _HASHES
    ]


def _row(instance: models.Model, fields: list[models.Field[Any, Any]]) -> dict[str, Any]:
    return {f.attname: _value(f, instance) for f in fields}


def _value(field: models.Field[Any, Any], instance: models.Model) -> Any:
    value = field.value_from_object(instance)
    # A stored file is its name in storage; its bytes go in attachment_files/.
    return value.name or "" if isinstance(field, models.FileField) else value


def _write(archive: zipfile.ZipFile, name: str, rows: Any) -> int:
    count = 0
    with archive.open(f"{name}.jsonl", "w") as file:
        for row in rows:
            file.write(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False).encode() + b"\n")
            count += 1
    return count


def _members(tenant: Tenant) -> Any:
    memberships = Membership.objects.for_tenant(tenant).select_related("user").order_by("pk")
    for membership in memberships:
        user = membership.user
        yield {
            "user_id": user.pk,
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "role": membership.role,
            "created_at": membership.created_at,
        }


def _write_files(archive: zipfile.ZipFile, tenant: Tenant) -> int:
    """Write each uploaded attachment's bytes; return how many files were written."""
    written = 0
    rows = Attachment.objects.for_tenant(tenant).exclude(file="").order_by("pk")
    for public_id, name, stored in rows.values_list("public_id", "name", "file").iterator():
        try:
            with default_storage.open(stored, "rb") as handle:
                content = handle.read()
        except OSError:
            continue  # the row outlived its file (a failed delete): nothing to copy
        safe = Path(name).name or "file"
        archive.writestr(f"attachment_files/{public_id}/{safe}", content)
        written += 1
    return written


def tenant_export(*, tenant: Tenant, file: IO[bytes]) -> ExportSummary:
    """Write the tenant's zip to `file` (a path's handle or a buffer)."""
    summary = ExportSummary(tenant=tenant.slug)
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        summary.counts["tenant"] = _write(archive, "tenant", [_row(tenant, _fields(Tenant))])
        summary.counts["members"] = _write(archive, "members", _members(tenant))
        for name, model in EXPORTED:
            fields = _fields(model)
            rows = model.objects.for_tenant(tenant).order_by("pk").iterator(chunk_size=500)
            summary.counts[name] = _write(archive, name, (_row(row, fields) for row in rows))
        summary.counts["attachment_files"] = _write_files(archive, tenant)
        manifest = {
            "tenant": tenant.slug,
            "exported_at": timezone.now().isoformat(),
            "format": "one JSON object per line; secrets and hashes left out",
            "files": {f"{name}.jsonl": count for name, count in summary.counts.items()},
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return summary
