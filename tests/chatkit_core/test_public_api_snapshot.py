"""Every public module of chatkit_core, its names and their signatures, against a snapshot.

`public_api.txt` beside this file lists, for each public module, every name of its
`__all__` (in order) with what it is: the signature of a function, the bases, members and
signatures of a class (a pydantic model's fields come with its signature), the type of a
constant. An accidental change to the public surface fails the test; a deliberate one
regenerates the snapshot and shows up in review:

    .venv/bin/python -m tests.chatkit_core.test_public_api_snapshot
"""

from __future__ import annotations

import enum
import importlib
import inspect
import re
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel

PUBLIC_MODULES = [
    "actions",
    "agents",
    "errors",
    "icons",
    "server",
    "store",
    "testing",
    "types",
    "widgets",
]
SNAPSHOT = Path(__file__).with_name("public_api.txt")

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _clean(text: str) -> str:
    return _ADDRESS.sub("", text)


def _signature(obj: Any) -> str:
    try:
        return _clean(str(inspect.signature(obj)))
    except (TypeError, ValueError):
        return "(<no signature>)"


def _member(cls: type, name: str, value: Any) -> str:
    if isinstance(value, staticmethod | classmethod):
        return f"{type(value).__name__} {name}{_signature(value.__func__)}"
    if isinstance(value, property):
        return f"property {name}"
    if inspect.isfunction(value):
        prefix = "async def" if inspect.iscoroutinefunction(value) else "def"
        return f"{prefix} {name}{_signature(value)}"
    return f"{name}: {type(value).__name__}"


def _describe_class(cls: type) -> list[str]:
    bases = ", ".join(f"{base.__module__}.{base.__qualname__}" for base in cls.__bases__)
    lines = [f"class ({bases}){_signature(cls)}"]
    if issubclass(cls, enum.Enum):
        lines += [f"  {member.name} = {member.value!r}" for member in cls]
        return lines
    skipped = {"model_config", "model_fields", "model_computed_fields"}
    for name, value in sorted(vars(cls).items()):
        if name.startswith("_") or name in skipped:
            continue
        if issubclass(cls, BaseModel) and name in cls.model_fields:
            continue  # in the signature already
        lines.append(f"  {_member(cls, name, value)}")
    return lines


def _describe(name: str, obj: Any) -> list[str]:
    if inspect.isclass(obj):
        lines = _describe_class(obj)
        return [f"{name}: {lines[0]}", *lines[1:]]
    if inspect.isfunction(obj):
        prefix = "async def" if inspect.iscoroutinefunction(obj) else "def"
        if inspect.isasyncgenfunction(obj):
            prefix = "async generator def"
        return [f"{name}: {prefix}{_signature(obj)}"]
    if isinstance(obj, dict | list | tuple | int | float | str | bool | frozenset):
        return [f"{name}: {type(obj).__name__} = {_clean(repr(obj))}"]
    return [f"{name}: {_clean(repr(obj))}"]


def describe_public_api() -> str:
    """Return the text of the snapshot for the chatkit_core modules as they are now."""
    lines: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for module_name in PUBLIC_MODULES:
            module = importlib.import_module(f"chatkit_core.{module_name}")
            exported = list(module.__all__)
            lines.append(f"# chatkit_core.{module_name}")
            for name in exported:
                lines += _describe(name, getattr(module, name))
            lines.append("")
    return "\n".join(lines)


def test_the_public_api_matches_its_snapshot() -> None:
    for module_name in PUBLIC_MODULES:
        exported = list(importlib.import_module(f"chatkit_core.{module_name}").__all__)
        public = [name for name in exported if not name.startswith("_")]
        assert exported == public, f"chatkit_core.{module_name}.__all__ exports a private name"
    current = describe_public_api()
    assert current.splitlines() == SNAPSHOT.read_text(encoding="utf-8").splitlines(), (
        "the public API changed; if on purpose, regenerate the snapshot: "
        ".venv/bin/python -m tests.chatkit_core.test_public_api_snapshot"
    )


if __name__ == "__main__":
    SNAPSHOT.write_text(describe_public_api(), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
