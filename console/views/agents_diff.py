"""A readable difference between two agent configurations, for the console's pages.

Each changed field becomes a line diff (difflib): text fields line by line, everything else
as indented JSON, tools one entry per tool name, capabilities one entry per MCP server and
per handoff, and one each for guardrails and hosted tools. Pure presentation: no query.
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
    "capabilities.guardrails": "guardrails",
    "capabilities.hosted_tools": "OpenAI's hosted tools",
}
_PREFIXES = {
    "tools.": "tool ",
    "capabilities.mcp.": "MCP server ",
    "capabilities.handoff.": "handoff to ",
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
    plain = {key: value for key, value in config.items() if key not in ("tools", "capabilities")}
    return {**plain, **tools, **_flat_capabilities(config.get("capabilities") or {})}


def _flat_capabilities(frozen: dict[str, Any]) -> dict[str, Any]:
    """One field per MCP server and per handoff target, one for guardrails, one for hosted
    tools. A handoff's frozen target config is left out: its version number says it all."""
    fields: dict[str, Any] = {
        f"capabilities.mcp.{server['name']}": server for server in frozen.get("mcp_servers", [])
    }
    for entry in frozen.get("handoffs", []):
        shown = {key: value for key, value in entry.items() if key != "config"}
        fields[f"capabilities.handoff.{entry['slug']}"] = shown
    for name in ("guardrails", "hosted_tools"):
        if frozen.get(name):
            fields[f"capabilities.{name}"] = frozen[name]
    return fields


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


_CAPABILITY_ORDER = ["capabilities.mcp.", "capabilities.guardrails", "capabilities.hosted_tools"]


def _position(field: str) -> tuple[int, int, str]:
    if field in _ORDER:
        return (_ORDER.index(field), 0, field)
    if not field.startswith("capabilities."):
        return (len(_ORDER), 0, field)  # tools.*
    # Then the capabilities, in the editor's order: MCP, guardrails, hosted tools, handoffs.
    rank = next(
        (n for n, prefix in enumerate(_CAPABILITY_ORDER) if field.startswith(prefix)),
        len(_CAPABILITY_ORDER),
    )
    return (len(_ORDER) + 1, rank, field)


def _label(field: str) -> str:
    if field in _LABELS:
        return _LABELS[field]
    for prefix, label in _PREFIXES.items():
        if field.startswith(prefix):
            return label + field[len(prefix) :]
    return field


def config_field_diffs(before: dict[str, Any] | None, after: dict[str, Any]) -> list[FieldDiff]:
    """Return what changed from `before` (None: nothing yet) to `after`, field by field."""
    changes = config_diff(_flat(before) if before is not None else None, _flat(after))
    diffs = []
    for change in sorted(changes, key=lambda change: _position(change["field"])):
        field = change["field"]
        diffs.append(FieldDiff(field, _label(field), _lines(change["before"], change["after"])))
    return diffs
