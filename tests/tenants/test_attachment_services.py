"""The attachment rules: which bytes pass for which type, one upload, files go with rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from tenants.exceptions import ObjectNotFound
from tenants.models import Attachment, Tenant, Thread
from tenants.services import end_user_forget, thread_delete
from tenants.services.attachments import (
    AttachmentLimits,
    AttachmentRefused,
    attachment_admit,
    attachment_upload,
    content_matches,
)

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def files_in(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file())


def pending(tenant: Tenant, public_id: str, mime_type: str = "image/png", user: str = "u1") -> None:
    Attachment.objects.for_tenant(tenant).create(
        public_id=public_id, end_user_id=user, name="f", mime_type=mime_type,
        data={"id": public_id, "type": "file", "name": "f", "mime_type": mime_type,
              "upload_descriptor": {"url": "http://x/u", "method": "POST", "headers": {}}},
    )  # fmt: skip


def upload(tenant: Tenant, public_id: str, data: bytes, user: str = "u1") -> dict[str, Any]:
    return attachment_upload(
        tenant=tenant, agent_id=None,  # type: ignore[arg-type]
        end_user_id=user, attachment_id=public_id, content=ContentFile(data, name="f"),
        max_bytes=1000,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mime_type", "data", "matches"),
    [
        ("image/png", PNG, True),
        ("image/png", b"GIF89a....", False),
        ("image/jpeg", b"\xff\xd8\xff\xe0rest", True),
        ("image/gif", b"GIF87a....", True),
        ("image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", True),
        ("image/webp", b"RIFF\x10\x00\x00\x00AVI LIST", False),
        ("application/pdf", b"%PDF-1.7\n", True),
        ("application/pdf", b"<html>", False),
        ("text/plain", "héllo\n".encode(), True),
        ("text/csv; charset=utf-8", b"a,b\n1,2\n", True),
        ("text/plain", b"\xff\xfebinary", False),
        ("application/json", b'{"a": "\x00"}', False),
    ],
)
def test_the_bytes_must_be_of_the_declared_type(mime_type: str, data: bytes, matches: bool) -> None:
    assert content_matches(mime_type, ContentFile(data)) is matches


def test_admission_checks_type_size_and_count(acme: Tenant) -> None:
    limits = AttachmentLimits(enabled=True, max_bytes=100, max_files=1)

    def admit(mime_type: str = "image/png", size: int = 10) -> str:
        return attachment_admit(
            tenant=acme, agent_id=None, end_user_id="u1", name="f",  # type: ignore[arg-type]
            size=size, mime_type=mime_type, limits=limits,
        )  # fmt: skip

    assert admit() == "image"
    assert admit("application/pdf") == "pdf"
    for mime_type, size, code in [("video/mp4", 10, "type_not_allowed"),
                                  ("image/png", 101, "file_too_large")]:  # fmt: skip
        with pytest.raises(AttachmentRefused) as refused:
            admit(mime_type, size)
        assert refused.value.code == code
    pending(acme, "atc_one")
    with pytest.raises(AttachmentRefused) as refused:
        admit()
    assert refused.value.code == "too_many_files"


def test_an_upload_is_stored_once_and_clears_the_descriptor(acme: Tenant, media: Path) -> None:
    pending(acme, "atc_a")

    record = upload(acme, "atc_a", PNG)

    assert "upload_descriptor" not in record
    [stored] = files_in(media)
    assert stored.read_bytes() == PNG
    with pytest.raises(AttachmentRefused) as again:
        upload(acme, "atc_a", PNG)
    assert again.value.code == "already_uploaded"
    assert files_in(media) == [stored]


def test_a_refused_upload_leaves_no_file_and_another_users_is_missing(
    acme: Tenant, globex: Tenant, media: Path
) -> None:
    pending(acme, "atc_a")

    with pytest.raises(AttachmentRefused):
        upload(acme, "atc_a", b"not a png")
    with pytest.raises(ObjectNotFound):
        upload(acme, "atc_a", PNG, user="u2")
    with pytest.raises(ObjectNotFound):
        upload(globex, "atc_a", PNG)

    assert files_in(media) == []
    assert not Attachment.objects.for_tenant(acme).get(public_id="atc_a").file


def test_deleting_a_thread_or_forgetting_a_user_deletes_the_files(
    acme: Tenant, media: Path
) -> None:
    thread = Thread.objects.for_tenant(acme).create(
        public_id="thr_1", end_user_id="u1", created_at=timezone.now()
    )
    pending(acme, "atc_in_thread")
    pending(acme, "atc_loose")
    upload(acme, "atc_in_thread", PNG)
    upload(acme, "atc_loose", PNG)
    Attachment.objects.for_tenant(acme).filter(public_id="atc_in_thread").update(thread=thread)

    thread_delete(tenant=acme, thread_id="thr_1")
    assert len(files_in(media)) == 1
    end_user_forget(tenant=acme, end_user_id="u1")

    assert files_in(media) == []
    assert not Attachment.objects.for_tenant(acme).exists()
