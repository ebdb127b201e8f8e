"""A readable difference between two agent configurations, for the console's pages.

Each changed field becomes a line diff (difflib): text fields line by line, everything else
as indented JSON, tools one entry per tool name. Pure presentation: no query.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from hosted_agents.services.definitions import config_diff

__all__ = ["DiffLine", "FieldDiff", "config_field_diffs"]

# Fields in the order a reader expects them; anything else (tools.*) after.
_ORDER = [
    "name",
    "instructions",
    "model",
    "model_settings",
    "provider_credential_id",
    "greeting",
    "starter_prompts",
]
_LABELS = {
    "provider_credential_id": "provider credential (id)",
    "model_settings": "model settings",
    "starter_prompts": "starter prompts",
}


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "context", "hunk"
    text: str


@dataclass(frozen=True)
class FieldDiff:
    field: str
    label: str
    lines: list[DiffLine]


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    tools = {f"tools.{tool['name']}": tool for tool in config.get("tools", [])}
    return {**{key: value for key, value in config.items() if key != "tools"}, **tools}


def _text(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.splitlines()
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def _lines(before: Any, after: Any) -> list[DiffLine]:
    diff = difflib.unified_diff(_text(before), _text(after), lineterm="", n=3)
    lines = []
    for line in list(diff)[2:]:  # skip the ---/+++ header
        if line.startswith("@@"):
            lines.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            lines.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            lines.append(DiffLine("del", line[1:]))
        else:
            lines.append(DiffLine("context", line[1:]))
    return lines


def _position(field: str) -> tuple[int, str]:
    return (_ORDER.index(field) if field in _ORDER else len(_ORDER), field)


def config_field_diffs(before: dict[str, Any] | None, after: dict[str, Any]) -> list[FieldDiff]:
    """Return what changed from `before` (None: nothing yet) to `after`, field by field."""
    changes = config_diff(_flat(before) if before is not None else None, _flat(after))
    diffs = []
    for change in sorted(changes, key=lambda change: _position(change["field"])):
        field = change["field"]
        label = _LABELS.get(
            field, field.replace("tools.", "tool ") if field.startswith("tools.") else field
        )
        diffs.append(FieldDiff(field, label, _lines(change["before"], change["after"])))
    return diffs
