"""`{{ state.name }}` placeholders in an agent's instructions."""

from __future__ import annotations

import pytest

from hosted_agents.instructions import instructions_placeholders, instructions_render


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Tier: {{ state.customer_tier }}.", "Tier: gold."),
        ("Tier: {{state.customer_tier}}.", "Tier: gold."),
        (
            "VIP: {{ state.vip }}, seats {{ state.seats }}, {{ state.ratio }}",
            "VIP: true, seats 3, 0.5",
        ),
        ("Off: {{ state.beta }}", "Off: false"),
        ("Missing: [{{ state.nothing }}]", "Missing: []"),
        ("Literal: \\{{ state.customer_tier }}", "Literal: {{ state.customer_tier }}"),
        (
            "Untouched: {{ customer_tier }} {% if x %} { state.customer_tier }",
            "Untouched: {{ customer_tier }} {% if x %} { state.customer_tier }",
        ),
        ("Dashes: {{ state.plan-name }}", "Dashes: pro-plan"),
    ],
)
def test_placeholders_are_replaced_by_state_values(template: str, expected: str) -> None:
    state = {
        "customer_tier": "gold",
        "vip": True,
        "beta": False,
        "seats": 3,
        "ratio": 0.5,
        "plan-name": "pro-plan",
    }
    assert instructions_render(template, state) == expected


def test_a_value_that_looks_like_a_placeholder_is_not_expanded() -> None:
    state = {"name": "{{ state.secret }}", "secret": "hunter2"}
    assert instructions_render("Hi {{ state.name }}", state) == "Hi {{ state.secret }}"


def test_instructions_without_placeholders_are_unchanged() -> None:
    assert instructions_render("Be brief. {braces} stay.", {}) == "Be brief. {braces} stay."


def test_the_placeholders_used_are_listed_once_each_and_escaped_ones_not() -> None:
    template = "Hi {{ state.name }} ({{state.tier}}); \\{{ state.literal }} {{ state.name }}"
    assert instructions_placeholders(template) == ["name", "tier"]
    assert instructions_placeholders("No state here: {{ name }}") == []
