"""An attachment whose name or MIME type is longer than its column is still saved: the
listing columns get a shortened copy (a name keeps its extension), and the attachment read
back is exactly the one saved."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from chatkit_core.types import FileAttachment
from tenants.models import Attachment, Tenant
from tenants.store import DjangoStore

pytestmark = pytest.mark.django_db(transaction=True)

NAME_COLUMN = Attachment._meta.get_field("name").max_length
MIME_COLUMN = Attachment._meta.get_field("mime_type").max_length


async def _save_and_read_columns(store: DjangoStore[Any], attachment: FileAttachment) -> Any:
    await store.save_attachment(attachment, context=None)

    def columns() -> tuple[str, str]:
        row = Attachment.objects.for_tenant(store.tenant).get(public_id=attachment.id)
        return row.name, row.mime_type

    return await database_sync_to_async(columns)()


@pytest.mark.parametrize(
    ("name", "expected_end"),
    [
        ("quarterly report " * 40 + ".pdf", "….pdf"),
        ("n" * 700, "…"),  # no extension: cut, marked
        ("a." + "x" * 600, "…"),  # an "extension" too long to be one
        ("résumé-" * 80 + ".docx", "….docx"),  # counted in characters, not bytes
    ],
)
async def test_a_long_name_is_shortened_in_its_column_and_kept_whole_in_the_attachment(
    name: str, expected_end: str, acme: Tenant
) -> None:
    store: DjangoStore[Any] = DjangoStore(acme)
    attachment = FileAttachment(id="atc_long", name=name, mime_type="application/pdf")

    column_name, _ = await _save_and_read_columns(store, attachment)

    assert len(name) > NAME_COLUMN
    assert len(column_name) == NAME_COLUMN and column_name.endswith(expected_end)
    assert column_name[:20] == name[:20]
    assert (await store.load_attachment("atc_long", context=None)).name == name


async def test_a_long_mime_type_is_shortened_in_its_column_only(acme: Tenant) -> None:
    store: DjangoStore[Any] = DjangoStore(acme)
    mime_type = "application/vnd." + "x" * 300
    attachment = FileAttachment(id="atc_mime", name="a.bin", mime_type=mime_type)

    _, column_mime = await _save_and_read_columns(store, attachment)

    assert len(column_mime) == MIME_COLUMN and column_mime.startswith("application/vnd.x")
    assert (await store.load_attachment("atc_mime", context=None)).mime_type == mime_type


async def test_saving_a_long_named_attachment_again_updates_its_columns(acme: Tenant) -> None:
    store: DjangoStore[Any] = DjangoStore(acme)
    await store.save_attachment(
        FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain"), None
    )
    longer = FileAttachment(id="atc_1", name="b" * 600 + ".txt", mime_type="text/plain")

    column_name, _ = await _save_and_read_columns(store, longer)

    assert column_name.startswith("bbb") and column_name.endswith("….txt")


async def test_names_and_types_that_fit_are_stored_as_they_are(acme: Tenant) -> None:
    store: DjangoStore[Any] = DjangoStore(acme)
    name = "n" * (NAME_COLUMN - 4) + ".pdf"
    attachment = FileAttachment(id="atc_fit", name=name, mime_type="m" * MIME_COLUMN)
    assert await _save_and_read_columns(store, attachment) == (name, "m" * MIME_COLUMN)
