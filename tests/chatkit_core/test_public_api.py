"""The public surface of types/actions/errors/icons/widgets is a superset of the official
`openai-chatkit` modules, so its backends run unchanged. (Every public module's names and
signatures are pinned by `test_public_api_snapshot`.)"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

MODULES = ["types", "actions", "errors", "icons", "widgets"]

# Where our defaults knowingly differ from the official models: each is a relaxation the
# protocol asks for (or allows), except Action.type, which the protocol says is required.
KNOWN_DEFAULT_DIFFERENCES = {
    ("types", "Thread", "items"),  # defaults to an empty page
    ("types", "UserMessageTagContent", "data"),  # clients may omit it (§2.3)
    ("actions", "Action", "type"),  # official default is a TypeVar object
    ("widgets", "BarSeries", "label"),  # nullable, so may be absent (§8.3)
    ("widgets", "AreaSeries", "label"),
    ("widgets", "LineSeries", "label"),
}


# Server-private fields the seed reference documents and the official SDK lacks; they are
# never serialized on the wire (test_types), so official backends see no difference.
KNOWN_EXTRA_FIELDS = {
    ("types", "ThreadMetadata", "updated_at"),
    ("types", "Thread", "updated_at"),
    ("types", "UserMessageItem", "metadata"),
}


def _official_source(module: str) -> Path:
    spec = importlib.util.find_spec(f"chatkit.{module}")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


def _official_public_names(module: str) -> set[str]:
    """Return names the official module defines at top level (not what it imports)."""
    names: set[str] = set()
    for node in ast.parse(_official_source(module).read_text()).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize("module", MODULES)
def test_every_exported_name_exists(module: str) -> None:
    mod = importlib.import_module(f"chatkit_core.{module}")

    assert [name for name in mod.__all__ if not hasattr(mod, name)] == []


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_of_the_official_module_exists_in_ours(module: str) -> None:
    ours = importlib.import_module(f"chatkit_core.{module}")

    missing = sorted(name for name in _official_public_names(module) if not hasattr(ours, name))

    assert missing == []


def _field_defaults(model: type[BaseModel]) -> dict[str, Any]:
    return {
        name: ("<required>" if f.is_required() else f.get_default(call_default_factory=True))
        for name, f in model.model_fields.items()
    }


def _same_default(a: Any, b: Any) -> bool:
    if isinstance(a, BaseModel) and isinstance(b, BaseModel):
        return a.model_dump() == b.model_dump()
    return bool(a == b)


# The official widget classes are marked deprecated and warn when the module is imported.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("module", ["types", "actions", "widgets"])
def test_official_models_have_our_field_names_and_defaults(module: str) -> None:
    official = importlib.import_module(f"chatkit.{module}")
    ours = importlib.import_module(f"chatkit_core.{module}")
    differences = set()
    extras = set()

    for name, theirs in vars(official).items():
        if not (isinstance(theirs, type) and issubclass(theirs, BaseModel)):
            continue
        if theirs.__module__ != official.__name__:
            continue
        their_fields, our_fields = _field_defaults(theirs), _field_defaults(getattr(ours, name))
        extras |= {(module, name, field) for field in our_fields.keys() - their_fields.keys()}
        # Same names in the same order (wire key order), apart from the known extras.
        assert [field for field in our_fields if field in their_fields] == list(their_fields)
        for field, default in their_fields.items():
            if not _same_default(default, our_fields[field]):
                differences.add((module, name, field))

    assert differences == {d for d in KNOWN_DEFAULT_DIFFERENCES if d[0] == module}
    assert extras == {d for d in KNOWN_EXTRA_FIELDS if d[0] == module}
