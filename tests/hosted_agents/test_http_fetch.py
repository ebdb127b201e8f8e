import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from hosted_agents.http_fetch import FetchError, fetch, is_public_address, system_resolver
from tests.hosted_agents.conftest import Certificate, LocalServer, StartServer

PUBLIC_IP = "93.184.216.34"
OTHER_PUBLIC_IP = "198.41.0.4"


class FakeDNS:
    """A resolver seam: each name answers its scripted address lists in turn (last one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        await asyncio.sleep(self.delay)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        scripted = self.answers[host]
        return scripted.pop(0) if len(scripted) > 1 else scripted[0]


class SimulatedInternet(httpx.AsyncBaseTransport):
    """A transport seam standing in for the internet: public IPs are served by local servers.

    It records the host of every URL it is asked to connect to, so a test can assert that the
    connection went to the checked address (and never to a name).
    """

    def __init__(self, routes: dict[str, LocalServer] | None = None) -> None:
        self.routes = routes or {}
        self.connected_to: list[str] = []
        self._loopback = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.connected_to.append(request.url.host)
        server = self.routes.get(request.url.host)
        if server is None:
            raise httpx.ConnectError("no route to host")
        forwarded = httpx.Request(
            request.method,
            request.url.copy_with(host=server.host, port=server.port),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._loopback.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self._loopback.aclose()


async def refused(url: str, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetch("GET", url, **kwargs)
    return caught.value


# --------------------------------------------------------------------------- the allowed path


async def test_a_public_name_is_fetched_from_its_checked_address_with_its_own_host_header(
    local_server: LocalServer,
) -> None:
    dns = FakeDNS({"api.example.test": [[PUBLIC_IP]]})
    internet = SimulatedInternet({PUBLIC_IP: local_server})

    result = await fetch("GET", "http://api.example.test/json", resolver=dns, transport=internet)

    assert result.status == 200
    assert result.body_json == {"server": "local", "host": "api.example.test", "method": "GET"}
    assert dns.lookups == ["api.example.test"]
    assert internet.connected_to == [PUBLIC_IP]
    assert result.address == PUBLIC_IP
    assert result.url == "http://api.example.test/json"
    assert result.truncated is False
    assert result.headers["content-type"] == "application/json"


async def test_a_rebinding_name_is_resolved_once_and_its_checked_address_is_used(
    local_server: LocalServer,
) -> None:
    dns = FakeDNS({"rebind.example.test": [[PUBLIC_IP], ["127.0.0.1"]]})
    internet = SimulatedInternet({PUBLIC_IP: local_server})

    result = await fetch("GET", "http://rebind.example.test/json", resolver=dns, transport=internet)
    again = await refused("http://rebind.example.test/json", resolver=dns, transport=internet)

    assert result.body_json["host"] == "rebind.example.test"
    assert internet.connected_to == [PUBLIC_IP]  # the second fetch never connected
    assert dns.lookups == ["rebind.example.test", "rebind.example.test"]
    assert again.reason == "forbidden_address"


async def test_the_real_transport_connects_to_the_checked_address_not_to_a_new_lookup(
    start_server: StartServer,
) -> None:
    first = await start_server("first", "127.0.0.1")
    second = await start_server("second", "127.0.0.2", first.port)
    dns = FakeDNS({"api.example.test": [["127.0.0.2"]]})

    # api.example.test exists in no real DNS, so only the checked address can be reached.
    result = await fetch(
        "GET", first.url(host="api.example.test"), resolver=dns, allow_private=True
    )

    assert result.body_json == {
        "server": "second",
        "host": f"api.example.test:{first.port}",
        "method": "GET",
    }
    assert first.requests == []
    assert len(second.requests) == 1
    assert result.address == "127.0.0.2"


async def test_https_checks_the_certificate_and_sends_sni_for_the_host_name(
    start_server: StartServer, certificate: Certificate
) -> None:
    server = await start_server("tls", tls=certificate.server_context())
    transport = httpx.AsyncHTTPTransport(verify=certificate.client_context())
    dns = FakeDNS({"api.example.test": [["127.0.0.1"]], "other.example.test": [["127.0.0.1"]]})
    options: dict[str, Any] = {"resolver": dns, "transport": transport, "allow_private": True}

    async with transport:
        result = await fetch("GET", server.url(host="api.example.test", scheme="https"), **options)
        mismatch = await refused(server.url(host="other.example.test", scheme="https"), **options)

    assert result.status == 200
    assert result.body_json["host"] == f"api.example.test:{server.port}"
    assert server.server_names == ["api.example.test", "other.example.test"]
    assert mismatch.reason == "connect_error"
    assert "certificate" in str(mismatch).lower()


async def test_private_addresses_are_fetched_when_the_operator_allows_them(
    local_server: LocalServer,
) -> None:
    result = await fetch("GET", local_server.url(), allow_private=True)
    denied = await refused(local_server.url())

    assert result.body_json["server"] == "local"
    assert denied.reason == "forbidden_address"
    assert len(local_server.requests) == 1


async def test_the_json_body_and_tenant_headers_are_sent(local_server: LocalServer) -> None:
    result = await fetch(
        "POST",
        local_server.url("/echo"),
        headers={"Authorization": "Bearer tenant-secret", "X-Trace": "1"},
        json_body={"city": "Oslo", "days": 3},
        allow_private=True,
    )

    assert result.body_json["method"] == "POST"
    assert result.body_json["body"] == '{"city":"Oslo","days":3}'
    sent = result.body_json["headers"]
    assert sent["content-type"] == "application/json"
    assert sent["authorization"] == "Bearer tenant-secret"
    assert sent["x-trace"] == "1"


# --------------------------------------------------------------------------- refused addresses


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "172.31.255.255",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "[::1]",
        "[::]",
        "[fe80::1]",
        "[fc00::1]",
        "[fd12:3456::1]",
        "[ff02::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[::ffff:a00:1]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:7f00:1::]",
        "[::127.0.0.1]",
        "[2001:db8::1]",
    ],
)
async def test_forbidden_literal_addresses_are_refused_before_any_connection(host: str) -> None:
    internet = SimulatedInternet()

    error = await refused(f"http://{host}/latest/meta-data/", transport=internet)

    assert error.reason == "forbidden_address"
    assert internet.connected_to == []


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f000001",
        "017700000001",
        "0x7f.1",
        "127.1",
        "127.0.1",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "127.0.0.1.",
        "0",
    ],
)
async def test_odd_numeric_host_forms_are_refused_without_a_lookup(host: str) -> None:
    dns = FakeDNS({host: [["127.0.0.1"]]})

    error = await refused(f"http://{host}/", resolver=dns, allow_private=True)

    assert error.reason == "bad_url"
    assert dns.lookups == []


@pytest.mark.parametrize(
    "answer",
    [
        ["10.1.2.3"],
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["::1"],
        ["::ffff:192.168.0.1"],
        [PUBLIC_IP, "127.0.0.1"],  # every address is checked, not only the first
        ["2606:4700::1111", "fd00::1"],
    ],
)
async def test_names_resolving_to_forbidden_addresses_are_refused(answer: list[str]) -> None:
    dns = FakeDNS({"internal.example.test": [answer]})
    internet = SimulatedInternet()

    error = await refused("https://internal.example.test/", resolver=dns, transport=internet)

    assert error.reason == "forbidden_address"
    assert internet.connected_to == []


async def test_localhost_names_are_refused_without_a_lookup() -> None:
    dns = FakeDNS({})

    errors = [
        await refused(url, resolver=dns) for url in ("http://localhost/", "http://a.localhost/")
    ]

    assert [error.reason for error in errors] == ["forbidden_address", "forbidden_address"]
    assert dns.lookups == []


@pytest.mark.parametrize(
    "address", [PUBLIC_IP, "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34", "2002:5db8:d822::"]
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


# --------------------------------------------------------------------------- redirects


async def test_a_redirect_from_an_allowed_host_to_a_forbidden_one_is_refused(
    start_server: StartServer,
) -> None:
    public = await start_server("public")
    internal = await start_server("internal")
    dns = FakeDNS({"api.example.test": [[PUBLIC_IP]], "intranet.example.test": [["10.0.0.5"]]})
    internet = SimulatedInternet({PUBLIC_IP: public, "10.0.0.5": internal})
    targets = [internal.url(), "http://intranet.example.test/json", "http://169.254.169.254/"]

    errors = [
        await refused(
            f"http://api.example.test/redirect?to={target}", resolver=dns, transport=internet
        )
        for target in targets
    ]

    assert [error.reason for error in errors] == ["forbidden_address"] * 3
    assert internet.connected_to == [PUBLIC_IP] * 3
    assert internal.requests == []


async def test_redirects_are_followed_and_each_hop_is_checked_and_pinned(
    start_server: StartServer,
) -> None:
    first = await start_server("first")
    second = await start_server("second")
    dns = FakeDNS({"a.example.test": [[PUBLIC_IP]], "b.example.test": [[OTHER_PUBLIC_IP]]})
    internet = SimulatedInternet({PUBLIC_IP: first, OTHER_PUBLIC_IP: second})

    result = await fetch(
        "POST",
        "http://a.example.test/redirect?to=/redirect%3Fto%3Dhttp://b.example.test/echo",
        headers={"X-Api-Key": "tenant-secret"},
        json_body={"a": 1},
        resolver=dns,
        transport=internet,
    )

    assert result.body_json["server"] == "second"
    assert result.body_json["method"] == "GET"  # a 302 after POST becomes GET
    assert "x-api-key" not in result.body_json["headers"]  # not sent to another origin
    assert first.requests[1].headers["x-api-key"] == "tenant-secret"  # same origin keeps it
    assert internet.connected_to == [PUBLIC_IP, PUBLIC_IP, OTHER_PUBLIC_IP]
    assert dns.lookups == ["a.example.test", "a.example.test", "b.example.test"]
    assert result.url == "http://b.example.test/echo"


async def test_a_307_redirect_keeps_the_method_and_body(local_server: LocalServer) -> None:
    result = await fetch(
        "POST",
        local_server.url(f"/redirect?status=307&to={local_server.url('/echo')}"),
        json_body=[1, 2],
        allow_private=True,
    )

    assert (result.body_json["method"], result.body_json["body"]) == ("POST", "[1,2]")


async def test_more_than_five_redirects_are_refused(local_server: LocalServer) -> None:
    loop_url = local_server.url("/redirect?to=/redirect%3Fto%3D/json")
    chain = local_server.url("/redirect?to=" + "/redirect%3Fto%3D" * 6 + "/json")
    ok = await fetch("GET", loop_url, allow_private=True)

    error = await refused(chain, allow_private=True)

    assert ok.status == 200
    assert error.reason == "too_many_redirects"
    assert len(local_server.requests) == 3 + 6


# --------------------------------------------------------------------------- limits


async def test_a_body_over_the_size_limit_is_cut_and_marked_truncated(
    local_server: LocalServer,
) -> None:
    big = await fetch(
        "GET", local_server.url("/big?size=200000"), max_response_bytes=1000, allow_private=True
    )
    exact = await fetch(
        "GET", local_server.url("/big?size=1000"), max_response_bytes=1000, allow_private=True
    )

    assert (len(big.body_text), big.truncated) == (1000, True)
    assert (len(exact.body_text), exact.truncated) == (1000, False)


async def test_the_time_limit_covers_a_body_that_never_finishes(local_server: LocalServer) -> None:
    started = time.monotonic()
    error = await refused(local_server.url("/slow"), timeout_seconds=0.3, allow_private=True)

    assert error.reason == "timeout"
    assert time.monotonic() - started < 2


async def test_the_time_limit_covers_a_slow_name_lookup() -> None:
    dns = FakeDNS({"slow.example.test": [[PUBLIC_IP]]}, delay=5)

    error = await refused("http://slow.example.test/", resolver=dns, timeout_seconds=0.2)

    assert error.reason == "timeout"


# --------------------------------------------------------------------------- other refusals


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:secret@example.com/",
        "http:///no-host",
        "http://[::1",
        "not a url",
    ],
)
async def test_bad_urls_are_refused(url: str) -> None:
    error = await refused(url, resolver=FakeDNS({}))

    assert error.reason == "bad_url"


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "intranet"},
        {"Transfer-Encoding": "chunked"},
        {"X-Evil": "a\r\nHost: intranet"},
        {"Bad Name": "x"},
        {f"X-{n}": "v" for n in range(51)},
    ],
)
async def test_tenant_headers_cannot_change_routing_or_framing(
    headers: dict[str, str],
) -> None:
    error = await refused("http://example.com/", headers=headers, resolver=FakeDNS({}))

    assert error.reason == "bad_request"


async def test_an_unresolvable_name_is_a_dns_error() -> None:
    dns = FakeDNS({"empty.example.test": [[]]})

    missing = await refused("http://missing.example.test/", resolver=dns)
    empty = await refused("http://empty.example.test/", resolver=dns)

    assert (missing.reason, empty.reason) == ("dns_error", "dns_error")


async def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the fetch: nothing listens

    error = await refused(f"http://127.0.0.1:{port}/", allow_private=True)

    assert error.reason == "connect_error"


async def test_the_system_resolver_returns_addresses_as_text() -> None:
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
