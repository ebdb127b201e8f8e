"""The upload and preview links of attachments, as Channels HTTP consumers.

    POST /t/<tenant>/agents/<agent>/attachments/<id>/upload?token=...   multipart field `file`
    GET  /t/<tenant>/agents/<agent>/attachments/<id>/preview?token=...  the image itself

See chatkit_endpoints/attachments.py for the links and their rules.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.datastructures import MultiValueDict

from chatkit_endpoints import origins
from chatkit_endpoints.attachments import (
    PREVIEW_SALT,
    UPLOAD_SALT,
    Grant,
    grant_read,
    no_attachment,
    refusal_status,
)
from chatkit_endpoints.auth import authenticate
from chatkit_endpoints.consumers import _EndpointConsumer
from chatkit_endpoints.errors import EndpointError
from tenants.exceptions import ObjectNotFound
from tenants.services.attachments import (
    AttachmentRefused,
    attachment_content_read,
    attachment_upload,
)

__all__ = ["AttachmentPreviewConsumer", "AttachmentUploadConsumer"]

# Room for the multipart envelope around the file when reading an upload's body.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# An upload's body stays in memory up to this size, then goes to a temporary file.
SPOOL_BYTES = 1024 * 1024


class AttachmentUploadConsumer(_EndpointConsumer):
    """POST .../attachments/<id>/upload?token=...: the bytes of an attachment, once."""

    methods = ("POST",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._grant: Grant | None = None
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115

    async def http_request(self, message: dict[str, Any]) -> None:
        try:
            if self.scope["method"] == "POST":
                await self._take(message.get("body", b""))
            if not message.get("more_body"):
                try:
                    await self.handle(b"")
                finally:
                    await self.disconnect()
                raise StopConsumer()
        except EndpointError as error:
            await self._refuse(error)
            raise StopConsumer() from None

    async def disconnect(self) -> None:
        self._spool.close()

    async def _take(self, chunk: bytes) -> None:
        """Check the link on the first chunk, then keep the body within the grant's size."""
        if self._grant is None:
            self._grant = grant_read(self.scope, UPLOAD_SALT)
        limit = self._grant.max_bytes + MULTIPART_OVERHEAD_BYTES
        declared = self.headers.get(b"content-length", b"0")
        self._size += len(chunk)
        if self._size > limit or (declared.isdigit() and int(declared) > limit):
            raise _from_refusal(
                AttachmentRefused(
                    "file_too_large",
                    f"The file is larger than the limit of {self._grant.max_bytes} bytes.",
                )
            )
        self._spool.write(chunk)

    async def serve(self, body: bytes) -> None:
        grant = self._grant or grant_read(self.scope, UPLOAD_SALT)
        await self._admit_browser(grant)
        if b"authorization" in self.headers:
            await self._check_credential(grant)
        content_type = self.headers.get(b"content-type", b"").decode("latin-1")
        if not content_type.lower().startswith("multipart/form-data"):
            raise EndpointError(
                415,
                "unsupported_media_type",
                "Send the file as multipart/form-data with one field named `file`.",
            )
        try:
            record = await database_sync_to_async(_upload)(
                grant, self._spool, content_type, self._size
            )
        except AttachmentRefused as refusal:
            raise _from_refusal(refusal) from None
        except ObjectNotFound:
            raise no_attachment() from None
        await self.send_json(json.dumps(record).encode())

    async def _admit_browser(self, grant: Grant) -> None:
        origin = self.headers.get(b"origin")
        if origin is None:
            return
        value = origin.decode("latin-1")
        headers = await database_sync_to_async(origins.refusal_headers)(
            origin=value, tenant_slug=grant.tenant_slug, agent_slug=grant.agent_slug,
            scope=self.scope,
        )  # fmt: skip
        if not headers:
            raise origins.refused(value, grant.tenant_slug, grant.agent_slug)
        self._cors = headers

    async def _check_credential(self, grant: Grant) -> None:
        """A credential sent along must be the attachment's end user's with this agent."""
        client = self.scope.get("client")
        access = await database_sync_to_async(authenticate)(
            headers=self.headers,
            tenant_slug=grant.tenant_slug,
            agent_slug=grant.agent_slug,
            ip=client[0] if client else None,
        )
        if access.context.end_user_id != grant.end_user_id:
            raise no_attachment()


def _from_refusal(refusal: AttachmentRefused) -> EndpointError:
    return EndpointError(refusal_status(refusal.code), refusal.code, refusal.message)


def _upload(grant: Grant, spool: Any, content_type: str, size: int) -> dict[str, Any]:
    """Parse the multipart body and store its `file` (sync, one hop)."""
    spool.seek(0)
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(size)}
    try:
        _, files = MultiPartParser(meta, spool, _upload_handlers(), "utf-8").parse()
    except MultiPartParserError as error:
        raise EndpointError(
            400, "invalid_upload", f"The multipart body is malformed: {error}"
        ) from None
    upload = _the_file(files)
    try:
        record = attachment_upload(
            tenant=grant.tenant_id,
            agent_id=grant.agent_id,
            end_user_id=grant.end_user_id,
            attachment_id=grant.attachment_id,
            content=upload,
            max_bytes=grant.max_bytes,
        )
    finally:
        upload.close()
    return {key: value for key, value in record.items() if key != "metadata"}


def _the_file(files: MultiValueDict[str, UploadedFile[Any]]) -> UploadedFile[Any]:
    found = files.getlist("file")
    if len(found) != 1:
        for name in files:
            for upload in files.getlist(name):
                upload.close()
        raise EndpointError(
            400, "invalid_upload", "Send exactly one file, in the multipart field `file`."
        )
    return found[0]


def _upload_handlers() -> list[Any]:
    from django.core.files.uploadhandler import load_handler

    return [load_handler(path) for path in settings.FILE_UPLOAD_HANDLERS]


class AttachmentPreviewConsumer(_EndpointConsumer):
    """GET .../attachments/<id>/preview?token=...: an image attachment, for `<img>`."""

    methods = ("GET",)

    async def serve(self, body: bytes) -> None:
        grant = grant_read(self.scope, PREVIEW_SALT)
        found = await database_sync_to_async(attachment_content_read)(
            tenant=grant.tenant_id, attachment_id=grant.attachment_id
        )
        if found is None or not found[0].startswith("image/"):
            raise no_attachment()
        mime_type, data = found
        self._started = True
        await self.send_response(
            200,
            data,
            headers=[
                (b"content-type", mime_type.encode("latin-1")),
                (b"cache-control", b"private, max-age=3600"),
                (b"x-content-type-options", b"nosniff"),
                (b"content-security-policy", b"default-src 'none'; sandbox"),
                # Pages on the tenant's own origins show it in an <img>.
                (b"cross-origin-resource-policy", b"cross-origin"),
            ],
        )
