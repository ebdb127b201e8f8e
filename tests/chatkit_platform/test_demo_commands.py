"""`demo_setup` makes the demo and `demo_info` prints its sign-in again, as the README says."""

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chatkit_platform.management.commands.demo_setup import TRY_IT

ROOT = Path(__file__).resolve().parents[2]


def _run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_banner_example_is_the_readme_one() -> None:
    assert TRY_IT in (ROOT / "README.md").read_text()


@pytest.mark.django_db
def test_demo_info_prints_the_sign_in_demo_setup_made(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    with pytest.raises(CommandError, match="demo_setup"):
        _run("demo_info")

    made = _run("demo_setup")
    again = _run("demo_info")

    password = (tmp_path / "demo_admin_password").read_text().strip()
    key = (tmp_path / "demo_api_key").read_text().strip()
    assert f"demo-admin / {password}" in again and key in again and TRY_IT in again
    assert again.strip() == made.strip()
    assert "demo-admin" not in _run("demo_setup", "--quiet")
    assert _run("demo_info").strip() == made.strip()  # a second setup kept the sign-in


@pytest.mark.django_db
def test_the_banners_console_and_playground_open_for_the_demo_sign_in(
    settings: Any, tmp_path: Path
) -> None:
    import re

    from django.test import Client

    settings.DATA_DIR = tmp_path
    made = _run("demo_setup")
    password = (tmp_path / "demo_admin_password").read_text().strip()
    client = Client()
    assert client.login(username="demo-admin", password=password)
    for label in ("Console", "Playground"):
        found = re.search(rf"^  {label}: +http://\S+?(/console/\S+)$", made, re.MULTILINE)
        assert found, f"{label} is not in the banner"
        assert client.get(found.group(1)).status_code == 200, label
