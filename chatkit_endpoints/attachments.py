"""Attachments at the ChatKit endpoint: the two-phase upload of protocol §5.14, and previews.

    attachments.create (protocol)   the record, with an upload link and (images) a preview link
    POST /t/<tenant>/agents/<agent>/attachments/<id>/upload?token=...   multipart field `file`
    GET  /t/<tenant>/agents/<agent>/attachments/<id>/preview?token=...  the image itself
    attachments.delete (protocol)   the record and its file

The upload link is signed (Django's signing, with SECRET_KEY): it names the tenant, agent,
attachment, end user and size limit, and it expires after
`CHATKIT_ATTACHMENT_UPLOAD_SECONDS`, or with the client session if that comes first. So the
ChatKit client can send the bytes without adding a credential (it uploads with
`credentials: "omit"` and only the descriptor's headers); a request that does carry an
`Authorization` header must be the same end user's. It works once: the attachment then has
its file. The preview link is signed too and does not expire, as it is saved in the thread's
items; it stops working when the attachment is deleted (with its thread, or by
`attachments.delete`). Only images have one. Limits come from the client session's
`file_upload` configuration, or the platform's settings for an API key's caller; the rules
live in tenants/services/attachments.py.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, quote

from channels.db import database_sync_to_async
from django.conf import settings
from django.core import signing
from django.http.request import split_domain_port, validate_host

from chatkit_core.errors import ProtocolError
from chatkit_core.store import AttachmentStore, NotFoundError
from chatkit_core.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from chatkit_endpoints.errors import EndpointError
from hosted_agents.runtime import RequestContext
from tenants.services.attachments import (
    AttachmentLimits,
    AttachmentRefused,
    attachment_admit,
    attachment_delete,
)

__all__ = [
    "PREVIEW_SALT",
    "UPLOAD_SALT",
    "AttachmentError",
    "Grant",
    "PlatformAttachmentStore",
    "endpoint_base_url",
    "grant_read",
    "limits_for",
    "no_attachment",
    "refusal_status",
]

UPLOAD_SALT = "chatkit_endpoints.attachment.upload"
PREVIEW_SALT = "chatkit_endpoints.attachment.preview"
MEGABYTE = 1024 * 1024

# The HTTP status of each refusal of tenants/services/attachments.py.
_STATUS = {
    "uploads_disabled": 403,
    "type_not_allowed": 415,
    "content_mismatch": 415,
    "file_too_large": 413,
    "too_many_files": 409,
    "already_uploaded": 409,
    "session_ended": 401,
}


def refusal_status(code: str) -> int:
    return _STATUS.get(code, 400)


class AttachmentError(ProtocolError):
    """A refused `attachments.create`, answered with its own HTTP status."""

    def __init__(self, refusal: AttachmentRefused) -> None:
        super().__init__(refusal.code, refusal.message)
        self.status_code = _STATUS.get(refusal.code, 400)


def limits_for(context: RequestContext) -> AttachmentLimits:
    """Return what the caller may upload: its session's `file_upload`, or the defaults."""
    session = context.client_session
    if session is None:
        return AttachmentLimits(
            enabled=True,
            max_bytes=settings.CHATKIT_ATTACHMENT_MAX_BYTES,
            max_files=settings.CHATKIT_ATTACHMENT_MAX_FILES,
        )
    size_mb = session.max_file_size_mb
    return AttachmentLimits(
        enabled=session.file_upload_enabled,
        max_bytes=settings.CHATKIT_ATTACHMENT_MAX_BYTES if size_mb is None else size_mb * MEGABYTE,
        max_files=session.max_files or settings.CHATKIT_ATTACHMENT_MAX_FILES,
        session_id=session.public_id,
    )


def endpoint_base_url(scope: dict[str, Any]) -> str | None:
    """Return the platform's public base URL: `CHATKIT_PUBLIC_URL`, else the request's.

    None when the request's Host is not one of ALLOWED_HOSTS: links saved in a thread must
    not point wherever a caller's Host header says.
    """
    if settings.CHATKIT_PUBLIC_URL:
        return str(settings.CHATKIT_PUBLIC_URL).rstrip("/")
    headers = dict(scope["headers"])
    scheme = "https" if scope.get("scheme") == "https" else "http"
    forwarded = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
    if settings.TRUST_X_FORWARDED_PROTO and forwarded in ("http", "https"):
        scheme = forwarded
    server = scope.get("server") or ("localhost", None)
    default_host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    host = headers.get(b"host", default_host.encode()).decode("latin-1")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return f"{scheme}://{host}"


@dataclass(frozen=True)
class Grant:
    """What a signed link allows: the attachment of one end user of one tenant's agent."""

    tenant_id: int
    tenant_slug: str
    agent_id: int
    agent_slug: str
    attachment_id: str
    end_user_id: str = ""
    max_bytes: int = 0
    expires_at: float = 0.0

    def payload(self) -> dict[str, Any]:
        return {
            "t": self.tenant_id, "ts": self.tenant_slug, "g": self.agent_id,
            "gs": self.agent_slug, "a": self.attachment_id, "u": self.end_user_id,
            "m": self.max_bytes, "e": self.expires_at,
        }  # fmt: skip

    @classmethod
    def from_payload(cls, value: Any) -> Grant:
        return cls(
            value["t"], value["ts"], value["g"], value["gs"], value["a"],
            value.get("u", ""), value.get("m", 0), value.get("e", 0.0),
        )  # fmt: skip


def grant_read(scope: dict[str, Any], salt: str) -> Grant:
    """Return the grant of the request's signed link, or raise the `EndpointError`."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = (query.get("token") or [""])[0]
    kwargs = scope["url_route"]["kwargs"]
    try:
        grant = Grant.from_payload(signing.loads(token, salt=salt))
    except (signing.BadSignature, KeyError, TypeError, IndexError):
        raise no_attachment() from None
    path = (kwargs["tenant"], kwargs["agent"], kwargs["attachment"])
    if path != (grant.tenant_slug, grant.agent_slug, grant.attachment_id):
        raise no_attachment()
    if grant.expires_at and grant.expires_at < time.time():
        raise EndpointError(
            401,
            "upload_link_expired",
            "This upload link has expired: create the attachment again.",
        )
    return grant


def no_attachment() -> EndpointError:
    return EndpointError(404, "not_found", "There is no such attachment, or the link is wrong.")


class PlatformAttachmentStore(AttachmentStore[RequestContext]):
    """The attachment store of one request: links on this platform, bytes in its storage."""

    def __init__(self, base_url: str | None) -> None:
        self.base_url = base_url

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return "atc_" + uuid.uuid4().hex[:24]

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        if self.base_url is None:
            raise ProtocolError(
                "invalid_host",
                "The request's Host is not one of the platform's ALLOWED_HOSTS, so no upload "
                "link can be made (or set CHATKIT_PUBLIC_URL).",
            )
        try:
            limits, kind = await database_sync_to_async(_admit)(input, context)
        except AttachmentRefused as refusal:
            raise AttachmentError(refusal) from None
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        grant = self._grant(context, attachment_id)
        session = context.client_session
        expires_at = time.time() + settings.CHATKIT_ATTACHMENT_UPLOAD_SECONDS
        if session is not None:
            expires_at = min(expires_at, session.expires_at.timestamp())
        upload = replace(grant, max_bytes=limits.max_bytes, expires_at=expires_at)
        fields: dict[str, Any] = {
            "id": attachment_id,
            "name": input.name,
            "mime_type": input.mime_type,
            "upload_descriptor": AttachmentUploadDescriptor(
                url=self._link(grant, "upload", UPLOAD_SALT, upload),
                method="POST",
                headers={},
            ),
            "metadata": {"session_id": session.public_id} if session is not None else {},
        }
        if kind == "image":
            preview = self._link(grant, "preview", PREVIEW_SALT, grant)
            return ImageAttachment(**fields, preview_url=preview)
        return FileAttachment(**fields)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        deleted = await database_sync_to_async(attachment_delete)(
            tenant=context.tenant,
            agent_id=context.agent.pk,
            end_user_id=context.end_user_id,
            attachment_id=attachment_id,
        )
        if not deleted:
            raise NotFoundError(f"Attachment {attachment_id} not found")

    def _grant(self, context: RequestContext, attachment_id: str) -> Grant:
        return Grant(
            context.tenant.pk, context.tenant.slug, context.agent.pk, context.agent.slug,
            attachment_id, context.end_user_id,
        )  # fmt: skip

    def _link(self, grant: Grant, action: str, salt: str, signed: Grant) -> str:
        token = signing.dumps(signed.payload(), salt=salt, compress=True)
        path = f"/t/{grant.tenant_slug}/agents/{grant.agent_slug}/attachments/{grant.attachment_id}"
        return f"{self.base_url}{path}/{action}?token={quote(token, safe='')}"


def _admit(input: AttachmentCreateParams, context: RequestContext) -> tuple[AttachmentLimits, str]:
    limits = limits_for(context)
    kind = attachment_admit(
        tenant=context.tenant,
        agent_id=context.agent.pk,
        end_user_id=context.end_user_id,
        name=input.name,
        size=input.size,
        mime_type=input.mime_type,
        limits=limits,
    )
    return limits, kind
