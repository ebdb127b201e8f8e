"""`manage.py chat`: the answer as a person reads it, widgets as text, and a quiet end on a
closed pipe; the demo model runs the turns (no network)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import OutputWrapper

from hosted_agents.demo_model import DEMO_MARKER
from hosted_agents.management.commands.chat import Transcript, widget_lines
from hosted_agents.tools.builtin import table_card
from tenants.models import Tenant, ThreadItem
from tests.hosted_agents.test_runtime import publish

pytestmark = pytest.mark.django_db(transaction=True)


def chat(*args: str) -> str:
    out = io.StringIO()
    call_command("chat", *args, stdout=out)
    return out.getvalue()


def test_the_answer_streams_as_text_after_the_thread_id(acme: Tenant) -> None:
    publish(acme)

    output = chat("acme", "support", "Hello there")

    first, answer, *rest = output.split("\n")
    assert first.startswith("[thread thr_")
    assert answer.startswith(DEMO_MARKER)
    assert "Hello there" in answer
    assert rest == [""]  # one line break at the end, no blank line


def test_show_table_prints_an_aligned_table_not_widget_json(acme: Tenant) -> None:
    publish(acme, code_tools=["show_table"])

    output = chat("acme", "support", "Please use show_table")

    assert '"type"' not in output and "Card" not in output
    lines = output.split("\n")
    widget = lines.index("[widget]")
    table = [line for line in lines[widget + 1 :] if line.startswith("  ")]
    assert len(table) >= 4  # title, header, rule, at least one row
    header, rule = table[1], table[2]
    assert set(rule.strip()) == {"-"}
    assert len(rule) >= len(header)
    assert "" not in lines[:-1]  # no blank lines anywhere


def test_widget_lines_align_the_cells_of_each_column() -> None:
    rows = [["Lyon", "0.5 M"], ["Rio de Janeiro", "6.7 M"]]
    card = table_card("Cities", ["City", "People"], rows)

    lines = widget_lines(card.model_dump(mode="json", exclude_none=True))

    assert lines == [
        "Cities",
        "City            People",
        "----------------------",
        "Lyon            0.5 M",
        "Rio de Janeiro  6.7 M",
    ]


def test_a_client_tool_call_ends_the_turn_with_an_explanation(acme: Tenant) -> None:
    publish(acme, code_tools=["switch_theme"])

    output = chat("acme", "support", "Please use switch_theme")

    assert '[client tool call] switch_theme({"theme": ' in output
    assert "The terminal cannot run client tools, so the turn ends here." in output
    assert "" not in output.split("\n")[:-1]


def test_progress_lines_follow_each_other_without_blank_lines() -> None:
    out = io.StringIO()
    transcript = Transcript(OutputWrapper(out))
    delta = {"type": "assistant_message.content_part.text_delta", "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "thread.created", "thread": {"id": "thr_1"}},
        {"type": "progress_update", "text": "Counting words"},
        {"type": "progress_update", "text": "Finding sentences"},
        {"type": "thread.item.updated", "item_id": "m", "update": {**delta, "delta": "Done"}},
        {"type": "thread.item.updated", "item_id": "m", "update": {**delta, "delta": "."}},
        {"type": "progress_update", "text": "Again"},
        {"type": "error", "code": "stream.error"},
    ]
    for event in events:
        transcript.show(event)
    transcript.end()

    assert out.getvalue() == (
        "[thread thr_1]\n[progress] Counting words\n[progress] Finding sentences\n"
        "Done.\n[progress] Again\n[error] stream.error\n"
    )


class ClosedPipe(io.StringIO):
    """A stdout whose reader left after `lines` lines, as `| head -n lines` does."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= text.count("\n")
        return super().write(text)


def test_raw_output_into_a_closed_pipe_ends_quietly_and_the_turn_is_kept(acme: Tenant) -> None:
    publish(acme)
    out = ClosedPipe(lines=2)

    call_command("chat", "acme", "support", "Hello", "--raw", stdout=out)  # no exception

    first, second = out.getvalue().split("\n")[:2]
    assert json.loads(first)["type"] == "thread.created"
    assert json.loads(second)["type"] == "thread.item.done"
    thread_id = json.loads(first)["thread"]["id"]
    # The server saw the client leave and kept what it had (the user's message at least).
    stored = ThreadItem.unscoped.filter(thread__public_id=thread_id).values_list("type", flat=True)
    assert "user_message" in list(stored)
