"""What integrator code written for `openai-chatkit` can tell apart: exception classes, warnings."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from chatkit_core.errors import InvalidRequestError, ProtocolError, UnsupportedOperationError
from tests.chatkit_core._differential import CONTEXT, OURS, REFERENCE, build_backend, load_sdk

BAD_BODIES = {
    "malformed JSON": b'{"type": "threads.list",',
    "an empty body": b"",
    "a JSON array": b"[]",
    "an unknown type": b'{"type": "threads.nope", "params": {}}',
    "no type": b'{"params": {}}',
    "a string limit": b'{"type": "threads.list", "params": {"limit": "many"}}',
    "a sideways order": b'{"type": "threads.list", "params": {"order": "sideways"}}',
    "a feedback kind of meh": (
        b'{"type": "items.feedback", "params": {"thread_id": "t", "item_ids": [], "kind": "meh"}}'
    ),
    "no params": b'{"type": "threads.get_by_id"}',
    "a missing thread_id": b'{"type": "threads.get_by_id", "params": {}}',
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
async def test_request_validation_errors_are_value_errors_on_both_sdks(case: str) -> None:
    raised: dict[str, Exception] = {}
    for prefix in (REFERENCE, OURS):
        server = build_backend(load_sdk(prefix)).server
        with pytest.raises(ValueError) as error:
            await server.process(BAD_BODIES[case], CONTEXT)
        raised[prefix] = error.value
    ours = raised[OURS]
    assert isinstance(ours, InvalidRequestError)
    assert ours.status_code == 400 and ours.code


def test_unsupported_operations_stay_out_of_the_value_errors() -> None:
    # The official SDK raises RuntimeError / NotImplementedError there: a 500, not a 400.
    error = UnsupportedOperationError("no attachment store")
    assert isinstance(error, ProtocolError | NotImplementedError)
    assert not isinstance(error, ValueError)


TEMPLATE: dict[str, Any] = {
    "version": "1.0",
    "name": "note",
    "template": '{"type": "Basic", "children": [{"type": "Text", "value": "{{ text }}"}]}',
}


@pytest.mark.parametrize("prefix", [REFERENCE, OURS])
def test_the_basic_build_helper_of_widget_templates_warns_as_deprecated(prefix: str) -> None:
    template = load_sdk(prefix).widgets.WidgetTemplate(TEMPLATE)

    with pytest.warns(DeprecationWarning, match="build_basic is deprecated"):
        root = template.build_basic({"text": "hi"})

    assert root.type == "Basic"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        template.build({"text": "hi"})  # the replacement does not warn
