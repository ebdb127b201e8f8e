"""The tools section: code tools read-only, HTTP tools with a real "try it", client tools."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from hosted_agents.models import ClientTool, HttpTool
from hosted_agents.services import agent_create, http_tool_create
from tenants.models import AuditEvent, Tenant

pytestmark = pytest.mark.django_db

SECRET = "Bearer sk-order-service-0123456789"


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"console:{name}", kwargs={"tenant": "acme", **kwargs})


@pytest.fixture
def admin(acme_admin: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(acme_admin)
    return client


@pytest.fixture
def viewer(acme_viewer: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(acme_viewer)
    return client


class _Orders(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        body = json.dumps({"order": self.path.rsplit("/", 1)[-1], "filler": "x" * 3000}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Order-Service", "v7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def orders_server() -> Iterator[str]:
    """An order service on a loopback port: a private address for the SSRF guard."""
    _Orders.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def order_tool(acme: Tenant, orders_server: str) -> HttpTool:
    return http_tool_create(
        tenant=acme, name="get_order", description="Look an order up.",
        url_template=orders_server + "/orders/{order_id}", headers={"Authorization": SECRET},
        args_schema={"type": "object", "properties": {"order_id": {"type": "string"}},
                     "required": ["order_id"]},
    )  # fmt: skip


def http_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "weather",
        "description": "The weather in a city.",
        "method": "GET",
        "url_template": "https://api.example.com/weather/{city}",
        "args_schema": json.dumps({"type": "object", "properties": {"city": {"type": "string"}}}),
        "headers": json.dumps({"X-Api-Key": "k-123456789"}),
        "time_limit_seconds": "5",
        "max_response_bytes": "4096",
    }
    data.update(overrides)
    return data


def test_the_list_shows_code_tools_with_their_schemas(viewer: Client, order_tool: HttpTool) -> None:
    page = viewer.get(url("tools")).content.decode()

    assert 'data-tool="calculator"' in page
    assert "&quot;expression&quot;" in page  # the JSON schema of its arguments
    assert 'data-tool="analyze_text"' in page and "worker, up to" in page
    assert 'data-tool="get_order"' in page
    assert SECRET not in page
    assert "Bea" in page  # the masked hint only
    assert url("http_tool_new") not in page  # a viewer gets no edit controls


def test_creating_an_http_tool_encrypts_its_headers(admin: Client, acme: Tenant) -> None:
    response = admin.post(url("http_tool_new"), http_form())

    tool = HttpTool.objects.for_tenant(acme).get(name="weather")
    assert response.status_code == 302
    assert response["Location"] == url("http_tool", tool=tool.pk)
    assert "k-123456789" not in tool.headers_encrypted
    assert list(tool.header_hints) == ["X-Api-Key"]
    assert "k-123456789" not in admin.get(url("http_tool_edit", tool=tool.pk)).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"args_schema": "{not json"}, "args_schema", "not valid JSON"),
        ({"args_schema": '{"type": "array"}'}, "args_schema", '"type": "object"'),
        ({"url_template": "ftp://x.example.com/weather"}, "url_template", "http(s) URL"),
        ({"url_template": "https://{city}.example.com/"}, "url_template", "path and the query"),
        ({"url_template": "https://a.example.com/{town}"}, "url_template", "not an argument"),
        ({"headers": '{"Host": "evil"}'}, "headers", "set by the platform"),
        ({"headers": '{"X-A": 1}'}, "headers", "must be a string"),
        ({"name": "has space"}, "name", "letters, digits"),
        ({"time_limit_seconds": "99"}, "time_limit_seconds", "less than or equal to 60"),
    ],
)
def test_bad_http_tools_are_refused_on_their_field(
    admin: Client, acme: Tenant, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = admin.post(url("http_tool_new"), http_form(**overrides))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors.get(field, [])), errors
    assert not HttpTool.objects.for_tenant(acme).exists()


def test_try_it_runs_the_real_call_and_shows_the_response(
    admin: Client, acme: Tenant, order_tool: HttpTool
) -> None:
    response = admin.post(
        url("http_tool_try", tool=order_tool.pk), {"arguments": '{"order_id": "A 7"}'}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "HTTP 200" in page
    assert "x-order-service" in page and "v7" in page
    assert "&quot;order&quot;: &quot;A%207&quot;" in page
    assert _Orders.seen == [{"path": "/orders/A%207", "authorization": SECRET}]
    assert SECRET not in page
    event = AuditEvent.objects.for_tenant(acme).get(action="http_tool.try")
    assert event.after["status"] == 200
    assert SECRET not in json.dumps(event.after)


def test_try_it_cuts_a_long_body_at_the_tools_limit(
    admin: Client, acme: Tenant, order_tool: HttpTool
) -> None:
    HttpTool.objects.for_tenant(acme).filter(pk=order_tool.pk).update(max_response_bytes=256)

    page = admin.post(url("http_tool_try", tool=order_tool.pk), {"arguments": '{"order_id": "1"}'})

    assert "body cut at 256 bytes" in page.content.decode()


def test_try_it_refuses_a_private_address_unless_allowed(
    admin: Client, acme: Tenant, order_tool: HttpTool, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False

    response = admin.post(
        url("http_tool_try", tool=order_tool.pk), {"arguments": '{"order_id": "1"}'}
    )

    assert response.status_code == 502
    assert "forbidden_address" in response.content.decode()
    assert _Orders.seen == []
    event = AuditEvent.objects.for_tenant(acme).get(action="http_tool.try")
    assert event.after["error"] == "forbidden_address"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [("[1]", "must be a JSON object"), ("{", "not valid JSON"), ("{}", "'order_id' is a required")],
)
def test_try_it_with_bad_arguments_calls_nothing(
    admin: Client, order_tool: HttpTool, arguments: str, message: str
) -> None:
    response = admin.post(url("http_tool_try", tool=order_tool.pk), {"arguments": arguments})

    assert response.status_code == 400
    assert message in " ".join(response.context["try_form"].errors["arguments"])
    assert _Orders.seen == []


def test_viewer_reads_an_http_tool_but_cannot_try_or_edit_it(
    viewer: Client, order_tool: HttpTool
) -> None:
    page = viewer.get(url("http_tool", tool=order_tool.pk)).content.decode()

    assert "get_order" in page and "Try it" not in page
    assert (
        viewer.post(url("http_tool_try", tool=order_tool.pk), {"arguments": "{}"}).status_code
        == 403
    )
    assert viewer.get(url("http_tool_edit", tool=order_tool.pk)).status_code == 403
    assert _Orders.seen == []


def test_editing_keeps_headers_unless_new_ones_are_given(
    admin: Client, acme: Tenant, order_tool: HttpTool
) -> None:
    form = http_form(name="get_order", url_template=order_tool.url_template, headers="",
                     args_schema=json.dumps(order_tool.args_schema))  # fmt: skip
    assert admin.post(url("http_tool_edit", tool=order_tool.pk), form).status_code == 302
    order_tool.refresh_from_db()
    assert order_tool.description == "The weather in a city."
    assert list(order_tool.header_hints) == ["Authorization"]

    form["clear_headers"] = "on"
    admin.post(url("http_tool_edit", tool=order_tool.pk), form)
    order_tool.refresh_from_db()
    assert order_tool.header_hints == {}


def test_deleting_an_http_tool_drops_it_from_drafts(
    admin: Client, acme: Tenant, order_tool: HttpTool
) -> None:
    agent = agent_create(tenant=acme, slug="a", name="A", http_tools=[order_tool.pk])

    assert admin.post(url("http_tool_delete", tool=order_tool.pk)).status_code == 302
    agent.refresh_from_db()
    assert agent.http_tools == []


def test_client_tools_are_created_and_edited(admin: Client, acme: Tenant) -> None:
    schema = {"type": "object", "properties": {"theme": {"enum": ["light", "dark"]}}}
    form = {
        "name": "set_theme",
        "description": "Switch the page theme.",
        "args_schema": json.dumps(schema),
    }
    assert admin.post(url("client_tool_new"), form).status_code == 302
    tool = ClientTool.objects.for_tenant(acme).get(name="set_theme")
    assert tool.args_schema["properties"] == schema["properties"]

    bad = admin.post(url("client_tool_edit", tool=tool.pk), {**form, "description": " "})
    assert bad.status_code == 400
    form["description"] = "Switch the theme."
    assert admin.post(url("client_tool_edit", tool=tool.pk), form).status_code == 302
    tool.refresh_from_db()
    assert tool.description == "Switch the theme."


def test_another_tenants_tools_are_not_found(admin: Client, globex: Tenant) -> None:
    theirs = http_tool_create(
        tenant=globex, name="x", description="X.", url_template="https://example.com/x"
    )
    assert admin.get(url("http_tool", tool=theirs.pk)).status_code == 404
    assert admin.get(url("http_tool_edit", tool=theirs.pk)).status_code == 404
    assert admin.post(url("http_tool_try", tool=theirs.pk), {"arguments": "{}"}).status_code == 404
    assert admin.post(url("http_tool_delete", tool=theirs.pk)).status_code == 404
