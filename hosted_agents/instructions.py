"""State variables in an agent's instructions: `{{ state.customer_tier }}` placeholders.

A client session carries `state_variables` (tenants/models/sessions.py), string, number or
boolean values under keys of up to 64 characters. The runtime renders the agent's
instructions with them before each turn:

* `{{ state.name }}` (spaces inside the braces optional) becomes the value of `name`;
  booleans read `true` / `false`, numbers as JSON writes them;
* a placeholder whose variable the session does not have becomes the empty string;
* values are inserted once, as text: a value that itself looks like a placeholder stays as
  it is, so an end user's value can never pull in another variable;
* `\\{{ state.name }}` (a backslash before the braces) writes the placeholder literally.

Nothing else in the instructions is touched: other braces, `{{ name }}` without `state.`,
and template syntax of any kind stay as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

__all__ = [
    "instructions_placeholders",
    "instructions_render",
    "state_fill",
    "state_placeholders_mark",
]

StateValue = str | int | float | bool

_PLACEHOLDER = re.compile(r"(\\)?\{\{\s*state\.([^\s{}]{1,64})\s*\}\}")


def _text(value: StateValue) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)  # true / false, 3, 2.5


def instructions_render(template: str, state: Mapping[str, StateValue]) -> str:
    """Return `template` with every `{{ state.name }}` replaced by the value of `name`."""
    return state_fill(template, state)


def state_fill(
    template: str,
    state: Mapping[str, StateValue],
    escape: Callable[[str], str] = lambda text: text,
) -> str:
    """Return `template` with its `{{ state.name }}` placeholders filled, each value passed
    through `escape` for where it lands (URL-quoted in a URL, say); same rules as above."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)[1:]  # escaped: drop the backslash, keep the braces
        value = state.get(match.group(2))
        return escape("" if value is None else _text(value))

    return _PLACEHOLDER.sub(replace, template)


def instructions_placeholders(template: str) -> list[str]:
    """Return the state variables `template` uses, in order of first use, escaped ones left out."""
    names = [match.group(2) for match in _PLACEHOLDER.finditer(template) if not match.group(1)]
    return list(dict.fromkeys(names))


def state_placeholders_mark(template: str, mark: str) -> str:
    """Return `template` with each (unescaped) state placeholder replaced by `mark`."""
    return _PLACEHOLDER.sub(lambda match: match.group(0) if match.group(1) else mark, template)
