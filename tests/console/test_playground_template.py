"""The playground's include renders the component with the agent's values, escaped."""

from __future__ import annotations

import json
from types import SimpleNamespace

from django.template.loader import render_to_string


def test_playground_include_embeds_the_component_with_escaped_values() -> None:
    agent = SimpleNamespace(name='Support "desk"', greeting="<b>Hi</b>")
    html = render_to_string(
        "console/playground_embed_demo.html",
        {
            "endpoint_url": "/t/acme/agents/support/chatkit",
            "chat_token": "ckcs_secret",
            "agent": agent,
            "starter_prompts_json": json.dumps(["Where is my order?"]),
        },
    )

    assert '<script src="/static/chatkit_platform/chatkit-client.js" defer></script>' in html
    assert 'endpoint="/t/acme/agents/support/chatkit"' in html
    assert 'heading="Support &quot;desk&quot;"' in html
    assert 'greeting="&lt;b&gt;Hi&lt;/b&gt;"' in html
    assert 'starter-prompts="[&quot;Where is my order?&quot;]"' in html
    assert "user=" not in html
