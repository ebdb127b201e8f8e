"""Attachments as model input: images as image parts, PDFs as file parts, text as text.

The bytes are read from storage (tenants/services/attachments.py) each time a thread's
history is converted, scoped by the tenant; one whose file is gone becomes a short note,
so an old thread still answers.
"""

from __future__ import annotations

import base64
from typing import Any, cast

from channels.db import database_sync_to_async
from openai.types.responses import ResponseInputContentParam

from chatkit_core.agents import ThreadItemConverter
from chatkit_core.types import Attachment
from tenants.models import Tenant
from tenants.services.attachments import ALLOWED_TYPES, attachment_content_read, normalized_type

__all__ = ["AttachmentConverter"]

# Text files are sent whole up to this many characters, then cut with a note.
TEXT_MAX_CHARACTERS = 100_000


class AttachmentConverter(ThreadItemConverter):
    """The default converter, plus the tenant's attachments read from storage."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    async def attachment_to_message_content(
        self, attachment: Attachment
    ) -> ResponseInputContentParam:
        found = await database_sync_to_async(attachment_content_read)(
            tenant=self.tenant, attachment_id=attachment.id
        )
        if found is None:
            part = _text(f"[The attached file {attachment.name} is no longer available.]")
        else:
            mime_type, data = found
            part = _part(attachment.name, normalized_type(mime_type), data)
        return cast(ResponseInputContentParam, part)


def _part(name: str, mime_type: str, data: bytes) -> Any:
    kind = ALLOWED_TYPES.get(mime_type)
    encoded = base64.b64encode(data).decode("ascii")
    if kind == "image":
        return {
            "type": "input_image",
            "detail": "auto",
            "image_url": f"data:{mime_type};base64,{encoded}",
        }
    if kind == "pdf":
        return {
            "type": "input_file",
            "filename": name,
            "file_data": f"data:{mime_type};base64,{encoded}",
        }
    text = data.decode("utf-8", errors="replace")
    if len(text) > TEXT_MAX_CHARACTERS:
        text = text[:TEXT_MAX_CHARACTERS] + "\n[... the rest of the file was left out]"
    return _text(f"The user attached the file {name}:\n<File name={name!r}>\n{text}\n</File>")


def _text(text: str) -> Any:
    return {"type": "input_text", "text": text}
