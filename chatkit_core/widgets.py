"""Widget trees carried in widget items (protocol §8).

Every node is a pydantic model whose props keep the camelCase wire names (`onClickAction`,
`defaultValue`, ...). Serialized widgets never contain `null`: each node drops null props
and strips nulls recursively from nested plain values (action payloads, status, spacing),
whether or not the caller asked for `exclude_none`.

Trees the strict models do not know (e.g. rendered from a `.widget` template, or JS-only
components such as `Table`) validate as `DynamicWidgetComponent` / `DynamicWidgetRoot`,
which keep unknown props as they are.
"""

from __future__ import annotations

import functools
import inspect
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from typing_extensions import TypedDict, deprecated

from .actions import ActionConfig
from .icons import IconName

if TYPE_CHECKING:
    from jinja2 import Environment, Template

__all__ = [
    "Alignment",
    "AreaSeries",
    "Badge",
    "BarSeries",
    "BasicRoot",
    "Border",
    "Borders",
    "Box",
    "BoxBase",
    "Button",
    "Caption",
    "CaptionSize",
    "Card",
    "CardAction",
    "Chart",
    "Checkbox",
    "Col",
    "ControlSize",
    "ControlVariant",
    "CurveType",
    "DatePicker",
    "Divider",
    "DynamicWidgetComponent",
    "DynamicWidgetRoot",
    "EditableProps",
    "Form",
    "Icon",
    "IconSize",
    "Image",
    "Input",
    "Justification",
    "Label",
    "LineSeries",
    "ListView",
    "ListViewItem",
    "Markdown",
    "MinMax",
    "RadioGroup",
    "RadioOption",
    "RadiusValue",
    "Row",
    "Select",
    "SelectOption",
    "Series",
    "Spacer",
    "Spacing",
    "StrictWidgetComponent",
    "StrictWidgetRoot",
    "Text",
    "TextAlign",
    "TextSize",
    "Textarea",
    "ThemeColor",
    "Title",
    "TitleSize",
    "Transition",
    "WidgetComponent",
    "WidgetComponentBase",
    "WidgetIcon",
    "WidgetRoot",
    "WidgetStatus",
    "WidgetStatusWithFavicon",
    "WidgetStatusWithIcon",
    "WidgetTemplate",
    "XAxisConfig",
]

# ---------------------------------------------------------------------------
# Shared value types (protocol §8.2)
# ---------------------------------------------------------------------------

WidgetIcon = IconName
"""Icon names accepted by widget props."""

RadiusValue = Literal[
    "2xs", "xs", "sm", "md", "lg", "xl", "2xl", "3xl", "4xl", "full", "100%", "none"
]
TextAlign = Literal["start", "center", "end"]
TextSize = Literal["xs", "sm", "md", "lg", "xl"]
IconSize = Literal["xs", "sm", "md", "lg", "xl", "2xl", "3xl"]
TitleSize = Literal["sm", "md", "lg", "xl", "2xl", "3xl", "4xl", "5xl"]
CaptionSize = Literal["sm", "md", "lg"]
Alignment = Literal["start", "center", "end", "baseline", "stretch"]
Justification = Literal["start", "center", "end", "between", "around", "evenly", "stretch"]
ControlVariant = Literal["solid", "soft", "outline", "ghost"]
ControlSize = Literal["3xs", "2xs", "xs", "sm", "md", "lg", "xl", "2xl", "3xl"]
CurveType = Literal[
    "basis",
    "basisClosed",
    "basisOpen",
    "bumpX",
    "bumpY",
    "bump",
    "linear",
    "linearClosed",
    "natural",
    "monotoneX",
    "monotoneY",
    "monotone",
    "step",
    "stepBefore",
    "stepAfter",
]

_Weight = Literal["normal", "medium", "semibold", "bold"]
_Theme = Literal["light", "dark"]
_GutterSize = Literal["2xs", "xs", "sm", "md", "lg", "xl"]


class ThemeColor(TypedDict):
    """A color that differs between light and dark themes."""

    dark: str
    light: str


class Spacing(TypedDict):
    """Per-side spacing; each side is px or a CSS string."""

    top: NotRequired[float | str]
    right: NotRequired[float | str]
    bottom: NotRequired[float | str]
    left: NotRequired[float | str]
    x: NotRequired[float | str]
    y: NotRequired[float | str]


class Border(TypedDict):
    """One border edge."""

    size: int
    color: NotRequired[str | ThemeColor]
    style: NotRequired[
        Literal["solid", "dashed", "dotted", "double", "groove", "ridge", "inset", "outset"]
    ]


class Borders(TypedDict):
    """Per-side borders; each side is a px thickness or a `Border`."""

    top: NotRequired[int | Border]
    right: NotRequired[int | Border]
    bottom: NotRequired[int | Border]
    left: NotRequired[int | Border]
    x: NotRequired[int | Border]
    y: NotRequired[int | Border]


class MinMax(TypedDict):
    """Inclusive integer bounds."""

    min: NotRequired[int]
    max: NotRequired[int]


class EditableProps(TypedDict):
    """Inline-editing options of a `Text` node."""

    name: str
    autoFocus: NotRequired[bool]
    autoSelect: NotRequired[bool]
    autoComplete: NotRequired[str]
    allowAutofillExtensions: NotRequired[bool]
    pattern: NotRequired[str]
    placeholder: NotRequired[str]
    required: NotRequired[bool]


class WidgetStatusWithFavicon(TypedDict):
    """A status header with a favicon."""

    text: str
    favicon: NotRequired[str]
    frame: NotRequired[bool]


class WidgetStatusWithIcon(TypedDict):
    """A status header with an icon."""

    text: str
    icon: NotRequired[WidgetIcon]


WidgetStatus = WidgetStatusWithFavicon | WidgetStatusWithIcon


class CardAction(TypedDict):
    """A footer button of a `Card` (`confirm` / `cancel`)."""

    label: str
    action: ActionConfig


class SelectOption(TypedDict):
    """One option of a `Select`."""

    value: str
    label: str
    disabled: NotRequired[bool]
    description: NotRequired[str]


class RadioOption(TypedDict):
    """One option of a `RadioGroup`."""

    label: str
    value: str
    disabled: NotRequired[bool]


class XAxisConfig(TypedDict):
    """X axis of a `Chart` given as an object."""

    dataKey: str
    hide: NotRequired[bool]
    labels: NotRequired[dict[str, str]]


# ---------------------------------------------------------------------------
# Null stripping
# ---------------------------------------------------------------------------


def _strip_nulls(value: Any) -> Any:
    """Return `value` with `None` removed from every nested dict and list."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value if v is not None]
    return value


class WidgetComponentBase(BaseModel):
    """Base of every widget node: a `type`, plus optional `key` and `id`.

    Props the model does not declare (e.g. JS-only ones such as `Card.border`) are kept
    and sent as given, so a stored widget survives a round trip unchanged.
    """

    model_config = ConfigDict(serialize_by_alias=True, extra="allow")

    key: str | None = None
    id: str | None = None
    type: str

    @model_serializer(mode="wrap")
    def _serialize_without_nulls(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        # Children are nodes that already stripped themselves; everything else may be a
        # plain value (payload, status, spacing, dynamic props) that still holds nulls.
        clean = {
            k: _strip_nulls(v) if k != "children" and isinstance(v, dict | list) else v
            for k, v in data.items()
            if v is not None
        }
        # `type` must survive even an `exclude_defaults` dump.
        clean["type"] = self.type
        return clean


# ---------------------------------------------------------------------------
# Components (protocol §8.3)
# ---------------------------------------------------------------------------


class Text(WidgetComponentBase):
    """Plain text; streamable when it has an `id`."""

    type: Literal["Text"] = Field(default="Text", frozen=True)
    value: str
    streaming: bool | None = None
    italic: bool | None = None
    lineThrough: bool | None = None
    color: str | ThemeColor | None = None
    weight: _Weight | None = None
    width: float | str | None = None
    size: TextSize | None = None
    textAlign: TextAlign | None = None
    truncate: bool | None = None
    minLines: int | None = None
    maxLines: int | None = None
    editable: Literal[False] | EditableProps | None = None


class Title(WidgetComponentBase):
    """Headline text."""

    type: Literal["Title"] = Field(default="Title", frozen=True)
    value: str
    color: str | ThemeColor | None = None
    weight: _Weight | None = None
    size: TitleSize | None = None
    textAlign: TextAlign | None = None
    truncate: bool | None = None
    maxLines: int | None = None


class Caption(WidgetComponentBase):
    """Small supporting text."""

    type: Literal["Caption"] = Field(default="Caption", frozen=True)
    value: str
    color: str | ThemeColor | None = None
    weight: _Weight | None = None
    size: CaptionSize | None = None
    textAlign: TextAlign | None = None
    truncate: bool | None = None
    maxLines: int | None = None


class Markdown(WidgetComponentBase):
    """Markdown text; streamable when it has an `id`."""

    type: Literal["Markdown"] = Field(default="Markdown", frozen=True)
    value: str
    streaming: bool | None = None


class Badge(WidgetComponentBase):
    """A small status or category label."""

    type: Literal["Badge"] = Field(default="Badge", frozen=True)
    label: str
    color: Literal["secondary", "success", "danger", "warning", "info", "discovery"] | None = None
    variant: Literal["solid", "soft", "outline"] | None = None
    size: Literal["sm", "md", "lg"] | None = None
    pill: bool | None = None


class BoxBase(BaseModel):
    """Flex-container props shared by `Box`, `Row`, `Col` and `Form`."""

    children: list[WidgetComponent] | None = None
    align: Alignment | None = None
    justify: Justification | None = None
    wrap: Literal["nowrap", "wrap", "wrap-reverse"] | None = None
    flex: int | str | None = None
    gap: int | str | None = None
    height: float | str | None = None
    width: float | str | None = None
    size: float | str | None = None
    minHeight: int | str | None = None
    minWidth: int | str | None = None
    minSize: int | str | None = None
    maxHeight: int | str | None = None
    maxWidth: int | str | None = None
    maxSize: int | str | None = None
    padding: float | str | Spacing | None = None
    margin: float | str | Spacing | None = None
    border: int | Border | Borders | None = None
    radius: RadiusValue | None = None
    background: str | ThemeColor | None = None
    aspectRatio: float | str | None = None


class Box(WidgetComponentBase, BoxBase):
    """Flex container with a chosen direction."""

    type: Literal["Box"] = Field(default="Box", frozen=True)
    direction: Literal["row", "col"] | None = None


class Row(WidgetComponentBase, BoxBase):
    """Horizontal flex container."""

    type: Literal["Row"] = Field(default="Row", frozen=True)


class Col(WidgetComponentBase, BoxBase):
    """Vertical flex container."""

    type: Literal["Col"] = Field(default="Col", frozen=True)


class Form(WidgetComponentBase, BoxBase):
    """Container whose named controls are submitted with `onSubmitAction`."""

    type: Literal["Form"] = Field(default="Form", frozen=True)
    onSubmitAction: ActionConfig | None = None
    direction: Literal["row", "col"] | None = None


class Divider(WidgetComponentBase):
    """A separating line."""

    type: Literal["Divider"] = Field(default="Divider", frozen=True)
    color: str | ThemeColor | None = None
    size: int | str | None = None
    spacing: int | str | None = None
    flush: bool | None = None


class Icon(WidgetComponentBase):
    """A named icon."""

    type: Literal["Icon"] = Field(default="Icon", frozen=True)
    name: WidgetIcon
    color: str | ThemeColor | None = None
    size: IconSize | None = None


class Image(WidgetComponentBase):
    """An image with sizing and fit controls."""

    type: Literal["Image"] = Field(default="Image", frozen=True)
    src: str
    alt: str | None = None
    fit: Literal["cover", "contain", "fill", "scale-down", "none"] | None = None
    position: (
        Literal[
            "top left",
            "top",
            "top right",
            "left",
            "center",
            "right",
            "bottom left",
            "bottom",
            "bottom right",
        ]
        | None
    ) = None
    radius: RadiusValue | None = None
    frame: bool | None = None
    flush: bool | None = None
    height: int | str | None = None
    width: int | str | None = None
    size: int | str | None = None
    minHeight: int | str | None = None
    minWidth: int | str | None = None
    minSize: int | str | None = None
    maxHeight: int | str | None = None
    maxWidth: int | str | None = None
    maxSize: int | str | None = None
    margin: int | str | Spacing | None = None
    background: str | ThemeColor | None = None
    aspectRatio: float | str | None = None
    flex: int | str | None = None


class Button(WidgetComponentBase):
    """A button, usually bound to an action."""

    type: Literal["Button"] = Field(default="Button", frozen=True)
    submit: bool | None = None
    label: str | None = None
    onClickAction: ActionConfig | None = None
    iconStart: WidgetIcon | None = None
    iconEnd: WidgetIcon | None = None
    style: Literal["primary", "secondary"] | None = None
    iconSize: Literal["sm", "md", "lg", "xl", "2xl"] | None = None
    color: (
        Literal[
            "primary", "secondary", "info", "discovery", "success", "caution", "warning", "danger"
        ]
        | None
    ) = None
    variant: ControlVariant | None = None
    size: ControlSize | None = None
    pill: bool | None = None
    uniform: bool | None = None
    block: bool | None = None
    disabled: bool | None = None


class Spacer(WidgetComponentBase):
    """Flexible space that pushes siblings apart."""

    type: Literal["Spacer"] = Field(default="Spacer", frozen=True)
    minSize: int | str | None = None


class Select(WidgetComponentBase):
    """A dropdown form control."""

    type: Literal["Select"] = Field(default="Select", frozen=True)
    name: str
    options: list[SelectOption]
    onChangeAction: ActionConfig | None = None
    placeholder: str | None = None
    defaultValue: str | None = None
    variant: ControlVariant | None = None
    size: ControlSize | None = None
    pill: bool | None = None
    block: bool | None = None
    clearable: bool | None = None
    disabled: bool | None = None
    searchable: bool | None = None


class DatePicker(WidgetComponentBase):
    """A date form control."""

    type: Literal["DatePicker"] = Field(default="DatePicker", frozen=True)
    name: str
    onChangeAction: ActionConfig | None = None
    placeholder: str | None = None
    defaultValue: datetime | None = None
    min: datetime | None = None
    max: datetime | None = None
    variant: ControlVariant | None = None
    size: ControlSize | None = None
    side: Literal["top", "bottom", "left", "right"] | None = None
    align: Literal["start", "center", "end"] | None = None
    pill: bool | None = None
    block: bool | None = None
    clearable: bool | None = None
    disabled: bool | None = None


class Checkbox(WidgetComponentBase):
    """A checkbox form control."""

    type: Literal["Checkbox"] = Field(default="Checkbox", frozen=True)
    name: str
    label: str | None = None
    defaultChecked: bool | None = None
    onChangeAction: ActionConfig | None = None
    disabled: bool | None = None
    required: bool | None = None


class Input(WidgetComponentBase):
    """A single-line text form control."""

    type: Literal["Input"] = Field(default="Input", frozen=True)
    name: str
    inputType: Literal["number", "email", "text", "password", "tel", "url"] | None = None
    defaultValue: str | None = None
    required: bool | None = None
    pattern: str | None = None
    placeholder: str | None = None
    allowAutofillExtensions: bool | None = None
    autoSelect: bool | None = None
    autoFocus: bool | None = None
    disabled: bool | None = None
    variant: Literal["soft", "outline"] | None = None
    size: ControlSize | None = None
    gutterSize: _GutterSize | None = None
    pill: bool | None = None


class Label(WidgetComponentBase):
    """A label for the control named `fieldName`."""

    type: Literal["Label"] = Field(default="Label", frozen=True)
    value: str
    fieldName: str
    size: TextSize | None = None
    weight: _Weight | None = None
    textAlign: TextAlign | None = None
    color: str | ThemeColor | None = None


class RadioGroup(WidgetComponentBase):
    """A group of radio buttons."""

    type: Literal["RadioGroup"] = Field(default="RadioGroup", frozen=True)
    name: str
    options: list[RadioOption] | None = None
    ariaLabel: str | None = None
    onChangeAction: ActionConfig | None = None
    defaultValue: str | None = None
    direction: Literal["row", "col"] | None = None
    disabled: bool | None = None
    required: bool | None = None


class Textarea(WidgetComponentBase):
    """A multi-line text form control."""

    type: Literal["Textarea"] = Field(default="Textarea", frozen=True)
    name: str
    defaultValue: str | None = None
    required: bool | None = None
    pattern: str | None = None
    placeholder: str | None = None
    autoSelect: bool | None = None
    autoFocus: bool | None = None
    disabled: bool | None = None
    variant: Literal["soft", "outline"] | None = None
    size: ControlSize | None = None
    gutterSize: _GutterSize | None = None
    rows: int | None = None
    autoResize: bool | None = None
    maxRows: int | None = None
    allowAutofillExtensions: bool | None = None


class Transition(WidgetComponentBase):
    """Animates layout changes of its single child."""

    type: Literal["Transition"] = Field(default="Transition", frozen=True)
    children: WidgetComponent | None


class BarSeries(BaseModel):
    """Bars of `dataKey`; series sharing a `stack` id stack up."""

    type: Literal["bar"] = Field(default="bar", frozen=True)
    label: str | None = None
    dataKey: str
    stack: str | None = None
    color: str | ThemeColor | None = None


class AreaSeries(BaseModel):
    """An area of `dataKey`; series sharing a `stack` id stack up."""

    type: Literal["area"] = Field(default="area", frozen=True)
    label: str | None = None
    dataKey: str
    stack: str | None = None
    color: str | ThemeColor | None = None
    curveType: CurveType | None = None


class LineSeries(BaseModel):
    """A line of `dataKey`."""

    type: Literal["line"] = Field(default="line", frozen=True)
    label: str | None = None
    dataKey: str
    color: str | ThemeColor | None = None
    curveType: CurveType | None = None


Series = Annotated[BarSeries | AreaSeries | LineSeries, Field(discriminator="type")]


class Chart(WidgetComponentBase):
    """A bar/area/line chart over rows of `data`."""

    type: Literal["Chart"] = Field(default="Chart", frozen=True)
    data: list[dict[str, str | int | float]]
    series: list[Series]
    xAxis: str | XAxisConfig
    showYAxis: bool | None = None
    showLegend: bool | None = None
    showTooltip: bool | None = None
    barGap: int | None = None
    barCategoryGap: int | None = None
    flex: int | str | None = None
    height: int | str | None = None
    width: int | str | None = None
    size: int | str | None = None
    minHeight: int | str | None = None
    minWidth: int | str | None = None
    minSize: int | str | None = None
    maxHeight: int | str | None = None
    maxWidth: int | str | None = None
    maxSize: int | str | None = None
    aspectRatio: float | str | None = None


class ListViewItem(WidgetComponentBase):
    """One row of a `ListView`."""

    type: Literal["ListViewItem"] = Field(default="ListViewItem", frozen=True)
    children: list[WidgetComponent]
    onClickAction: ActionConfig | None = None
    gap: int | str | None = None
    align: Alignment | None = None


# ---------------------------------------------------------------------------
# Roots (protocol §8.1)
# ---------------------------------------------------------------------------


class Card(WidgetComponentBase):
    """The usual widget root: a bordered container with optional footer actions."""

    type: Literal["Card"] = Field(default="Card", frozen=True)
    asForm: bool | None = None
    children: list[WidgetComponent]
    background: str | ThemeColor | None = None
    size: Literal["sm", "md", "lg", "full"] | None = None
    padding: float | str | Spacing | None = None
    status: WidgetStatus | None = None
    collapsed: bool | None = None
    confirm: CardAction | None = None
    cancel: CardAction | None = None
    theme: _Theme | None = None


class ListView(WidgetComponentBase):
    """A root listing `ListViewItem` rows, with "show more" after `limit`."""

    type: Literal["ListView"] = Field(default="ListView", frozen=True)
    children: list[ListViewItem]
    limit: int | Literal["auto"] | None = None
    status: WidgetStatus | None = None
    theme: _Theme | None = None


class DynamicWidgetComponent(WidgetComponentBase):
    """A node of any `type`, with any props."""

    children: DynamicWidgetComponent | list[DynamicWidgetComponent] | None = None


class BasicRoot(DynamicWidgetComponent):
    """The minimal `Basic` root (entity previews); accepts any props."""

    type: Literal["Basic"] = Field(default="Basic", frozen=True)


class DynamicWidgetRoot(DynamicWidgetComponent):
    """A root of a known root `type` with arbitrary props."""

    type: Literal["Card", "ListView", "Basic"]


StrictWidgetComponent = Annotated[
    Text
    | Title
    | Caption
    | Chart
    | Badge
    | Markdown
    | Box
    | Row
    | Col
    | Divider
    | Icon
    | Image
    | ListViewItem
    | Button
    | Checkbox
    | Spacer
    | Select
    | DatePicker
    | Form
    | Input
    | Label
    | RadioGroup
    | Textarea
    | Transition,
    Field(discriminator="type"),
]

StrictWidgetRoot = Annotated[Card | ListView | BasicRoot, Field(discriminator="type")]

WidgetComponent = StrictWidgetComponent | DynamicWidgetComponent
"""Any widget node: a known component, or a dynamic one."""

WidgetRoot = StrictWidgetRoot | DynamicWidgetRoot
"""Any widget root: `Card`, `ListView` or `Basic`, strict or dynamic."""

for _model in (BoxBase, Box, Row, Col, Form, Transition, ListViewItem, Card, ListView):
    _model.model_rebuild()


# ---------------------------------------------------------------------------
# Templates (protocol §8.8)
# ---------------------------------------------------------------------------


class WidgetTemplate:
    """A `.widget` definition that renders data into a `DynamicWidgetRoot`.

    `definition` holds `version` (must be `"1.0"`), `name`, `template` (a Jinja template
    string or compiled `jinja2.Template`) and optionally `jsonSchema`.
    """

    def __init__(self, definition: dict[str, Any]) -> None:
        self.version: str = definition["version"]
        if self.version != "1.0":
            raise ValueError(f"Unsupported widget spec version: {self.version!r}")
        self.name: str = definition["name"]
        self.template: Template = _compile_template(definition["template"])
        self.data_schema: dict[str, Any] = definition.get("jsonSchema", {})

    @classmethod
    def from_file(cls, file_path: str) -> WidgetTemplate:
        """Load a `.widget` file; a relative path is resolved from the caller's file."""
        path = Path(file_path)
        if not path.is_absolute():
            caller = inspect.stack()[1].filename
            path = Path(caller).resolve().parent / path
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def build(self, data: dict[str, Any] | BaseModel | None = None) -> DynamicWidgetRoot:
        """Render the template with `data` and return the widget root."""
        return DynamicWidgetRoot.model_validate_json(self._render(data))

    @deprecated("WidgetTemplate.build_basic is deprecated. Use WidgetTemplate.build instead.")
    def build_basic(self, data: dict[str, Any] | BaseModel | None = None) -> BasicRoot:
        """Render the template with `data` into a `Basic` root (deprecated: use `build`)."""
        return BasicRoot.model_validate_json(self._render(data))

    def _render(self, data: dict[str, Any] | BaseModel | None) -> str:
        if data is None:
            values: dict[str, Any] = {}
        elif isinstance(data, BaseModel):
            values = data.model_dump()
        else:
            values = data
        return self.template.render(**values)


def _compile_template(source: str | Template) -> Template:
    # jinja2 is imported here, not at the top: only `.widget` template users need it.
    from jinja2 import Template

    if isinstance(source, Template):
        return source
    return _jinja_environment().from_string(source)


@functools.cache
def _jinja_environment() -> Environment:
    from jinja2 import Environment, StrictUndefined

    return Environment(undefined=StrictUndefined)
