"""The tenant export: a zip of everything one tenant owns, nothing of another, no secret."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client

from hosted_agents.tenant_export import EXPORTED, NOT_EXPORTED, tenant_export
from tenants.models import Tenant, TenantOwnedModel
from tests.support.tenant_data import FilledTenant, tenant_fill


def _read(data: bytes) -> dict[str, list[dict[str, object]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name.removesuffix(".jsonl"): [
                json.loads(line) for line in archive.read(name).splitlines()
            ]
            for name in archive.namelist()
            if name.endswith(".jsonl")
        } | {"manifest": [json.loads(archive.read("manifest.json"))]}


@pytest.fixture
def filled(acme: Tenant, globex: Tenant) -> tuple[FilledTenant, FilledTenant]:
    return tenant_fill(acme, marker="acme"), tenant_fill(globex, marker="globex")


def _export(tenant: Tenant) -> bytes:
    buffer = io.BytesIO()
    tenant_export(tenant=tenant, file=buffer)
    return buffer.getvalue()


def test_the_zip_holds_the_tenant_s_data_and_nothing_of_another(
    acme: Tenant, filled: tuple[FilledTenant, FilledTenant]
) -> None:
    data = _export(acme)
    files = _read(data)

    for name in ("agents", "agent_versions", "http_tools", "provider_credentials", "api_keys",
                 "client_sessions", "threads", "thread_items", "attachments", "feedback",
                 "tool_calls", "usage_daily", "audit_events", "members"):  # fmt: skip
        assert files[name], f"{name}.jsonl is empty"
        assert all(row.get("tenant_id", acme.pk) == acme.pk for row in files[name]), name
    assert files["tenant"] == [files["tenant"][0]] and files["tenant"][0]["slug"] == "acme"
    assert {row["username"] for row in files["members"]} == {"alice"}
    assert [row["public_id"] for row in files["threads"]] == ["thr_acme"]
    assert files["thread_items"][0]["data"] == {"text": "hello from acme"}
    manifest = files["manifest"][0]
    assert manifest["tenant"] == "acme"
    assert manifest["files"]["threads.jsonl"] == 1
    # The zip is compressed: look in what it holds.
    text = json.dumps(files).lower()
    assert "globex" not in text and "greta" not in text
    assert "acme" in text


def test_the_zip_holds_no_secret_and_no_hash(
    acme: Tenant, filled: tuple[FilledTenant, FilledTenant]
) -> None:
    acme_rows = filled[0]
    text = json.dumps(_read(_export(acme)))
    for secret in (acme_rows.raw_api_key, acme_rows.client_secret, acme_rows.provider_secret,
                   acme_rows.header_secret, acme_rows.api_key_hash):  # fmt: skip
        assert secret not in text
    assert "key_hash" not in text and "secret_hash" not in text and "headers_encrypted" not in text


def test_every_tenant_owned_table_is_exported_or_left_out_with_a_reason() -> None:
    owned = {
        model
        for model in apps.get_models()
        if issubclass(model, TenantOwnedModel) and not model._meta.abstract
    }
    assert owned == {model for _, model in EXPORTED} | set(NOT_EXPORTED)


def test_the_command_writes_the_zip_and_refuses_an_unknown_tenant(
    acme: Tenant, filled: tuple[FilledTenant, FilledTenant], tmp_path: Path
) -> None:
    path = tmp_path / "acme.zip"
    call_command("export_tenant", "acme", "--output", str(path))
    assert [row["public_id"] for row in _read(path.read_bytes())["threads"]] == ["thr_acme"]
    with pytest.raises(CommandError, match="exists"):
        call_command("export_tenant", "acme", "--output", str(path))
    with pytest.raises(CommandError, match="tenant"):
        call_command("export_tenant", "nobody", "--output", str(tmp_path / "x.zip"))


def test_the_admin_action_downloads_the_zip(
    acme: Tenant, filled: tuple[FilledTenant, FilledTenant], admin_client: Client
) -> None:
    answer = admin_client.post(
        "/admin/tenants/tenant/", {"action": "export", "_selected_action": [acme.pk]}
    )
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/zip"
    assert [row["public_id"] for row in _read(answer.content)["threads"]] == ["thr_acme"]


def test_uploaded_files_travel_with_their_rows(
    acme: Tenant, globex: Tenant, settings: object, tmp_path: Path
) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tenants.models import Attachment

    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    for tenant, content in ((acme, b"acme bytes"), (globex, b"globex bytes")):
        stored = default_storage.save(f"test/{tenant.slug}.txt", ContentFile(content))
        Attachment.objects.for_tenant(tenant).create(
            public_id=f"atc_{tenant.slug}",
            name="../notes.txt",
            mime_type="text/plain",
            data={"id": f"atc_{tenant.slug}", "type": "file", "name": "notes.txt"},
            file=stored,
        )
    with zipfile.ZipFile(io.BytesIO(_export(acme))) as archive:
        names = [name for name in archive.namelist() if name.startswith("attachment_files/")]
        # The stored name's directories never reach the zip's paths.
        assert names == ["attachment_files/atc_acme/notes.txt"]
        assert archive.read(names[0]) == b"acme bytes"
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["files"]["attachment_files.jsonl"] == 1
