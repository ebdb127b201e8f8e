"""Widget trees serialize to the camelCase, null-free JSON of protocol §8 (checklist 53)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, TypeAdapter

from chatkit_core import widgets as w
from chatkit_core._serialization import dump_json
from chatkit_core.actions import Action, ActionConfig

root_adapter: TypeAdapter[w.WidgetRoot] = TypeAdapter(w.WidgetRoot)


def _contains_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _contains_null(v) for v in value.values())
    if isinstance(value, list):
        return any(v is None or _contains_null(v) for v in value)
    return False


def _action_configs(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        for key, v in value.items():
            if key.endswith("Action") or key == "action":
                found.append(v)
            found.extend(_action_configs(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(_action_configs(v))
    return found


def _every_component() -> w.Card:
    send = ActionConfig(type="send", payload={"id": 7, "draft": None, "tags": [None, "a"]})
    return w.Card(
        asForm=True,
        size="md",
        padding={"x": 4, "y": "2px"},
        status={"text": "Draft", "icon": "mail"},
        confirm={"label": "Send", "action": send},
        cancel={"label": "Cancel", "action": ActionConfig(type="cancel")},
        children=[
            w.Title(value="Email", size="lg"),
            w.Caption(value="to Bob"),
            w.Text(id="body", value="Hello", streaming=False, editable={"name": "body"}),
            w.Markdown(value="**hi**"),
            w.Badge(label="new", color="info", pill=True),
            w.Box(direction="row", children=[w.Spacer(minSize=4)], border={"top": 1}),
            w.Row(gap=2, children=[w.Icon(name="check", size="sm")]),
            w.Col(children=[w.Divider(flush=True)], background={"light": "#fff", "dark": "#000"}),
            w.Form(onSubmitAction=ActionConfig(type="submit"), children=[]),
            w.Image(src="https://i.example/a.png", alt="a", fit="cover"),
            w.Button(label="Go", onClickAction=send, iconStart="sparkle", style="primary"),
            w.Select(
                name="pick",
                options=[{"value": "a", "label": "A"}],
                onChangeAction=ActionConfig(type="pick", loadingBehavior="none"),
                defaultValue="a",
            ),
            w.DatePicker(name="when", defaultValue="2025-06-01T00:00:00Z"),
            w.Checkbox(name="ok", defaultChecked=True, onChangeAction=ActionConfig(type="ok")),
            w.Input(name="email", inputType="email", required=True),
            w.Textarea(name="note", rows=3, autoResize=True),
            w.Label(value="Email", fieldName="email"),
            w.RadioGroup(
                name="size",
                options=[{"label": "S", "value": "s"}],
                onChangeAction=ActionConfig(type="size", handler="client", streaming=False),
            ),
            w.Transition(children=w.Text(value="fading")),
            w.Chart(
                data=[{"x": "a", "y": 1}],
                series=[
                    w.BarSeries(dataKey="y", stack="s"),
                    w.AreaSeries(label="Area", dataKey="y", curveType="monotone"),
                    w.LineSeries(dataKey="y"),
                ],
                xAxis={"dataKey": "x", "hide": False},
                showLegend=True,
            ),
        ],
    )


def test_serialized_widgets_contain_no_null_anywhere() -> None:
    data = json.loads(dump_json(_every_component()))

    assert not _contains_null(data)
    assert data["confirm"]["action"]["payload"] == {"id": 7, "tags": ["a"]}


def test_widgets_drop_nulls_even_without_exclude_none() -> None:
    data = _every_component().model_dump(mode="json")

    assert not _contains_null(data)


def test_every_action_config_carries_handler_loading_behavior_and_streaming() -> None:
    configs = _action_configs(json.loads(dump_json(_every_component())))

    assert len(configs) == 7
    for config in configs:
        assert {"type", "handler", "loadingBehavior", "streaming"} <= config.keys()
    assert {"type": "size", "handler": "client", "loadingBehavior": "auto", "streaming": False} in (
        configs
    )


def test_widget_props_keep_camel_case_wire_names() -> None:
    data = json.loads(dump_json(_every_component()))
    children = {child["type"]: child for child in data["children"]}

    assert data["asForm"] is True
    assert "onClickAction" in children["Button"]
    assert "iconStart" in children["Button"]
    assert children["Select"]["defaultValue"] == "a"
    assert children["Label"]["fieldName"] == "email"
    assert children["Input"]["inputType"] == "email"
    assert children["Chart"]["xAxis"] == {"dataKey": "x", "hide": False}
    assert children["Chart"]["series"][0] == {"type": "bar", "dataKey": "y", "stack": "s"}
    assert children["DatePicker"]["defaultValue"] == "2025-06-01T00:00:00Z"


def test_transition_holds_a_single_child_object() -> None:
    data = json.loads(dump_json(_every_component()))
    transition = next(c for c in data["children"] if c["type"] == "Transition")

    assert transition["children"] == {"type": "Text", "value": "fading"}


def test_widget_example_from_protocol_round_trips_unchanged() -> None:
    wire = {
        "type": "Card",
        "children": [
            {"type": "Text", "id": "body", "value": "Draft ready"},
            {
                "type": "Button",
                "label": "Send",
                "onClickAction": {
                    "type": "send_email",
                    "payload": {"id": 7},
                    "handler": "server",
                    "loadingBehavior": "auto",
                    "streaming": True,
                },
            },
        ],
    }

    root = root_adapter.validate_python(wire)

    assert isinstance(root, w.Card)
    assert isinstance(root.children[1], w.Button)
    assert json.loads(dump_json(root)) == wire


def test_unknown_components_and_props_pass_through_without_nulls() -> None:
    table = {
        "type": "Table",
        "children": [{"type": "Table.Row", "header": True, "children": [{"type": "Table.Cell"}]}],
    }
    wire: dict[str, Any] = {
        "type": "Card",
        "border": {"size": 1},
        "children": [table, {"type": "Text", "value": "x", "futureProp": {"a": 1, "b": None}}],
    }

    root = root_adapter.validate_python(wire)
    data = json.loads(dump_json(root))

    assert isinstance(root, w.Card)
    assert isinstance(root.children[0], w.DynamicWidgetComponent)
    assert data["border"] == {"size": 1}
    assert data["children"][0] == table
    assert data["children"][1] == {"type": "Text", "value": "x", "futureProp": {"a": 1}}


def test_basic_root_accepts_nested_roots() -> None:
    root = root_adapter.validate_python(
        {"type": "Basic", "gap": 2, "children": [{"type": "Card", "children": []}]}
    )

    assert isinstance(root, w.BasicRoot)
    assert json.loads(dump_json(root)) == {
        "type": "Basic",
        "gap": 2,
        "children": [{"type": "Card", "children": []}],
    }


def test_list_view_root_with_items_round_trips() -> None:
    wire = {
        "type": "ListView",
        "limit": "auto",
        "children": [
            {
                "type": "ListViewItem",
                "onClickAction": {
                    "type": "open",
                    "handler": "server",
                    "loadingBehavior": "self",
                    "streaming": True,
                },
                "children": [{"type": "Text", "value": "row"}],
            }
        ],
    }

    root = root_adapter.validate_python(wire)

    assert isinstance(root, w.ListView)
    assert json.loads(dump_json(root)) == wire


def test_type_is_emitted_even_when_defaults_are_excluded() -> None:
    data = w.Text(value="x").model_dump(exclude_defaults=True)

    assert data == {"type": "Text", "value": "x"}


class _Archive(Action[Literal["archive"], int]):
    pass


def test_action_create_builds_config_with_the_pinned_type() -> None:
    config = _Archive.create(5, loading_behavior="container", streaming=False)

    assert config == ActionConfig(
        type="archive", payload=5, loadingBehavior="container", streaming=False
    )


def test_action_create_on_an_unpinned_action_raises() -> None:
    with pytest.raises(TypeError):
        Action[str, Any].create(None)


class _Person(BaseModel):
    name: str


TEMPLATE = {
    "version": "1.0",
    "name": "greeting",
    "template": '{"type":"Card","children":[{"type":"Text","value":{{ name | tojson }}}]}',
    "jsonSchema": {"type": "object"},
}


def test_widget_template_renders_data_into_a_dynamic_root() -> None:
    root = w.WidgetTemplate(TEMPLATE).build({"name": 'Ann "A"'})

    assert isinstance(root, w.DynamicWidgetRoot)
    assert json.loads(dump_json(root)) == {
        "type": "Card",
        "children": [{"type": "Text", "value": 'Ann "A"'}],
    }


def test_widget_template_resolves_relative_paths_from_the_calling_file(tmp_path: Path) -> None:
    path = tmp_path / "greeting.widget"
    path.write_text(json.dumps(TEMPLATE), encoding="utf-8")
    relative = os.path.relpath(path, Path(__file__).resolve().parent)

    root = w.WidgetTemplate.from_file(relative).build(_Person(name="Bo"))

    assert root.model_dump()["children"] == [{"type": "Text", "value": "Bo"}]


def test_widget_template_rejects_unknown_versions() -> None:
    with pytest.raises(ValueError, match="version"):
        w.WidgetTemplate({**TEMPLATE, "version": "2.0"})
