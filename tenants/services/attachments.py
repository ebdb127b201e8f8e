"""Attachments: which files are accepted, storing their bytes once, deleting them with rows.

The ChatKit protocol creates an attachment in two phases (protocol §5.14): `attachments.create`
saves the record (through the store) with an upload link, then the client sends the bytes
there once. These services hold the rules of both phases:

* `attachment_admit`: the declared type is on the allowlist, the declared size within the
  caller's limit, and the caller has not used up its number of files;
* `attachment_upload`: the bytes are what the type says (magic bytes, UTF-8 text), within the
  limit, uploaded once; they go through Django's storage API (`STORAGES["default"]`), and a
  refused upload leaves no file behind;
* `attachment_rows_delete`: deleting attachment rows deletes their files once the transaction
  commits (a thread's attachments go with it, see tenants/store.py and threads.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from tenants.exceptions import ErrorKind, ObjectNotFound, TenancyError
from tenants.models import Attachment, ClientSession, Tenant

__all__ = [
    "ALLOWED_TYPES",
    "AttachmentLimits",
    "AttachmentRefused",
    "attachment_admit",
    "attachment_content_read",
    "attachment_delete",
    "attachment_rows_delete",
    "attachment_upload",
]

logger = logging.getLogger(__name__)

# Declared MIME type -> what the model receives it as (hosted_agents/attachment_input.py).
ALLOWED_TYPES: dict[str, str] = {
    "image/png": "image",
    "image/jpeg": "image",
    "image/gif": "image",
    "image/webp": "image",
    "application/pdf": "pdf",
    "text/plain": "text",
    "text/markdown": "text",
    "text/csv": "text",
    "application/json": "text",
}
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}
SNIFF_BYTES = 16


class AttachmentRefused(TenancyError):
    """An attachment or its upload breaks a rule; `code` says which (the edge's status)."""

    kind = ErrorKind.INVALID

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AttachmentLimits:
    """What one caller may upload: a session's `file_upload`, or the platform's defaults."""

    enabled: bool
    max_bytes: int
    max_files: int
    # The client session the files count against; None counts the end user's files not yet
    # sent in a message (an API key's caller).
    session_id: str | None = None


def normalized_type(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


def attachment_admit(
    *,
    tenant: Tenant,
    agent_id: int,
    end_user_id: str,
    name: str,
    size: int,
    mime_type: str,
    limits: AttachmentLimits,
) -> str:
    """Return the attachment's kind ("image", "pdf", "text"), or raise `AttachmentRefused`."""
    if not limits.enabled:
        raise AttachmentRefused(
            "uploads_disabled",
            "File uploads are off for this session: mint it with "
            "chatkit_configuration.file_upload.enabled true.",
        )
    kind = ALLOWED_TYPES.get(normalized_type(mime_type))
    if kind is None:
        raise AttachmentRefused(
            "type_not_allowed",
            f"Files of type {mime_type!r} are not accepted; send one of "
            f"{', '.join(sorted(ALLOWED_TYPES))}.",
        )
    if size < 0 or size > limits.max_bytes:
        raise _too_large(limits.max_bytes)
    used = attachment_count(
        tenant=tenant, agent_id=agent_id, end_user_id=end_user_id, limits=limits
    )
    if used >= limits.max_files:
        raise AttachmentRefused(
            "too_many_files", f"At most {limits.max_files} files may be attached here."
        )
    return kind


def attachment_count(
    *, tenant: Tenant, agent_id: int, end_user_id: str, limits: AttachmentLimits
) -> int:
    rows = Attachment.objects.for_tenant(tenant).filter(agent_id=agent_id, end_user_id=end_user_id)
    if limits.session_id is not None:
        return rows.filter(data__metadata__session_id=limits.session_id).count()
    return rows.filter(thread__isnull=True).count()


def _too_large(max_bytes: int) -> AttachmentRefused:
    return AttachmentRefused(
        "file_too_large", f"The file is larger than the limit of {max_bytes} bytes."
    )


def content_matches(mime_type: str, content: File[Any]) -> bool:
    """Return whether the bytes are of the declared type (magic bytes; UTF-8 for text)."""
    mime = normalized_type(mime_type)
    content.seek(0)
    if ALLOWED_TYPES.get(mime) == "text":
        data: bytes = content.read()
        content.seek(0)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return "\x00" not in text
    head: bytes = content.read(SNIFF_BYTES)
    content.seek(0)
    if mime == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return head.startswith(_MAGIC.get(mime, (b"\x00never",)))


def attachment_upload(
    *,
    tenant: Tenant | int,
    agent_id: int,
    end_user_id: str,
    attachment_id: str,
    content: File[Any],
    max_bytes: int,
) -> dict[str, Any]:
    """Store the attachment's bytes (once) and return its protocol record (sync).

    Another end user's attachment, or another agent's, is missing. The row is locked, so of
    two uploads at once one stores and the other is refused. Whatever fails after the file
    was written, the commit included, removes the file again: call it outside a transaction.
    """
    written: list[str] = []
    try:
        return _upload(tenant, agent_id, end_user_id, attachment_id, content, max_bytes, written)
    except BaseException:
        _files_delete(written)
        raise


@transaction.atomic
def _upload(
    tenant: Tenant | int,
    agent_id: int,
    end_user_id: str,
    attachment_id: str,
    content: File[Any],
    max_bytes: int,
    written: list[str],
) -> dict[str, Any]:
    row = (
        Attachment.objects.for_tenant(tenant)
        .select_for_update()
        .filter(public_id=attachment_id, agent_id=agent_id, end_user_id=end_user_id)
        .first()
    )
    if row is None:
        raise ObjectNotFound("attachment", attachment_id)
    if row.file:
        raise AttachmentRefused("already_uploaded", "This attachment's file was already uploaded.")
    session_id = (row.data.get("metadata") or {}).get("session_id")
    if session_id and not _session_active(tenant, session_id):
        raise AttachmentRefused(
            "session_ended",
            "The client session this attachment was created in has ended (expired or "
            "cancelled): fetch a fresh client secret and attach the file again.",
        )
    if content.size is None or content.size > max_bytes:
        raise _too_large(max_bytes)
    if not content_matches(row.mime_type, content):
        raise AttachmentRefused(
            "content_mismatch", f"The file's content is not of its declared type {row.mime_type}."
        )
    name = default_storage.save(f"attachments/{row.tenant_id}/{row.public_id}", content)
    written.append(name)
    record: dict[str, Any] = {
        key: value for key, value in row.data.items() if key != "upload_descriptor"
    }
    # Claimed by a conditional update, for databases without row locks (SQLite): of two
    # uploads at once, exactly one changes the row; the other's file is removed.
    claimed = (
        Attachment.objects.for_tenant(tenant)
        .filter(pk=row.pk, file="")
        .update(file=name, size=content.size, data=record, updated_at=timezone.now())
    )
    if claimed != 1:
        raise AttachmentRefused("already_uploaded", "This attachment's file was already uploaded.")
    return record


def _session_active(tenant: Tenant | int, session_id: str) -> bool:
    session = ClientSession.objects.for_tenant(tenant).filter(public_id=session_id).first()
    return session is not None and session.refusal(now=timezone.now()) is None


def attachment_delete(
    *, tenant: Tenant | int, agent_id: int, end_user_id: str, attachment_id: str
) -> int:
    """Delete one end user's attachment with this agent and its file; return 0 if missing."""
    rows = Attachment.objects.for_tenant(tenant).filter(
        public_id=attachment_id, agent_id=agent_id, end_user_id=end_user_id
    )
    with transaction.atomic():
        return attachment_rows_delete(rows)


def attachment_rows_delete(rows: QuerySet[Attachment]) -> int:
    """Delete the attachment rows and, once committed, their files; return how many rows."""
    names = [name for name in rows.values_list("file", flat=True) if name]
    deleted, _ = rows.delete()
    if names:
        transaction.on_commit(lambda: _files_delete(names))
    return int(deleted)


def _files_delete(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("Deleting the attachment file %s failed", name)


def attachment_content_read(
    *, tenant: Tenant | int, attachment_id: str
) -> tuple[str, bytes] | None:
    """Return an uploaded attachment's MIME type and bytes, or None (missing, not uploaded)."""
    row = (
        Attachment.objects.for_tenant(tenant)
        .filter(public_id=attachment_id)
        .exclude(file="")
        .values_list("mime_type", "file")
        .first()
    )
    if row is None:
        return None
    mime_type, name = row
    try:
        with default_storage.open(name, "rb") as stored:
            return mime_type, stored.read()
    except FileNotFoundError:
        logger.warning("The file of attachment %s is missing from storage", attachment_id)
        return None
