"""Fetch a URL for a tenant-defined HTTP tool without letting it reach internal addresses.

`fetch` refuses loopback, private, link-local (cloud metadata), unique-local, multicast,
unspecified and reserved addresses, also when written as IPv4-mapped/NAT64/6to4 IPv6, unless
the operator allows private addresses. It resolves each host name once, checks every address
the name resolves to, and connects to the checked address itself: the URL sent to the
transport carries the IP, while the Host header and the TLS server name (SNI and certificate
check) keep the original name. So a DNS-rebinding name cannot switch addresses between the
check and the connection. Redirects are followed here, at most `max_redirects`, and every hop
is checked the same way.

Limits: `timeout_seconds` bounds the whole call (DNS, connects, redirects and body).
A body longer than `max_response_bytes` is cut at the limit and returned with
`truncated=True` (a tool usually does better with the start of an answer than with none).
Response headers are bounded by the HTTP parser (100 KiB) and trimmed in the result; request
headers and body have fixed limits.

Every refusal or failure raises `FetchError`, whose `reason` says which:

    FetchError
      reason: bad_url | bad_request | forbidden_address | dns_error | connect_error
            | timeout | too_large | too_many_redirects | bad_response | network_error

A non-2xx status is not an error: it is returned for the tool to report.

The same address policy guards other outbound clients: `CheckedTransport` is an httpx
transport that resolves, checks and pins every request's host the same way (the model
client of a tenant's provider credential uses it), and `url_target_check` refuses at save
time what can be refused without DNS (local names, non-public literal addresses).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import ipaddress
import json
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx

__all__ = [
    "CheckedTransport",
    "FetchError",
    "FetchErrorReason",
    "FetchResult",
    "Resolver",
    "address_check",
    "fetch",
    "header_check",
    "is_public_address",
    "system_resolver",
    "url_target_check",
]

FetchErrorReason = Literal[
    "bad_url",
    "bad_request",
    "forbidden_address",
    "dns_error",
    "connect_error",
    "timeout",
    "too_large",
    "too_many_redirects",
    "bad_response",
    "network_error",
]

# Take a host name and port, return the addresses (as text) the name resolves to.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_REQUEST_BYTES = 1024 * 1024
MAX_REQUEST_HEADERS = 50
MAX_REQUEST_HEADER_BYTES = 16 * 1024
MAX_RESULT_HEADERS = 100
MAX_RESULT_HEADER_VALUE = 2048

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Set by the fetch, never by the tenant: framing and routing are ours to decide.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer",
     "keep-alive", "proxy-authorization", "proxy-connection"}
)  # fmt: skip
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# inet_aton-style forms (2130706433, 0x7f.1, 127.1, 0177.0.0.1, 127.0.0.1.) that the system
# resolver would turn into an address although they are not dotted-quad IPv4.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_FORBIDDEN_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/29", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


class FetchError(Exception):
    """A fetch was refused or failed; `reason` is a stable code for logs and tool errors."""

    def __init__(self, reason: FetchErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason: FetchErrorReason = reason


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    headers: dict[str, str]
    body_text: str
    # The parsed body when the response says it is JSON and it parses, else None.
    body_json: Any
    truncated: bool
    elapsed: float
    url: str  # the final URL, after redirects
    address: str  # the checked address the final request was sent to


async def system_resolver(host: str, port: int) -> list[str]:
    """Return the addresses `host` resolves to, using the event loop's getaddrinfo."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(address: IPAddress) -> bool:
    """Return whether an address is globally routable and not special-purpose."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not any(address in net for net in _FORBIDDEN_NETWORKS)


async def fetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    timeout_seconds: float = 10.0,
    max_response_bytes: int = 1024 * 1024,
    allow_private: bool = False,
    max_redirects: int = 5,
    resolver: Resolver = system_resolver,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchResult:
    """Send one request (JSON body optional) and return the response, following redirects.

    `resolver` and `transport` are seams: by default the system resolver and a fresh
    `httpx.AsyncHTTPTransport` per hop (no proxies from the environment, no connection reuse
    across hops). An injected transport receives requests whose URL host is the checked IP,
    with `Host` and the `sni_hostname` extension naming the original host; it should not be
    shared between calls, or a pooled TLS connection could serve another name on that IP.
    """
    request = _Request(method.upper(), _parse_url(url), _checked_headers(headers), None)
    if request.method not in METHODS:
        raise FetchError("bad_request", f"method {method!r} is not allowed")
    if json_body is not None:
        request = _with_json_body(request, json_body)
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_seconds):
            for _ in range(max_redirects + 1):
                address = await _checked_address(request.url, resolver, allow_private)
                outcome = await _send(
                    request, address, transport, timeout_seconds, max_response_bytes
                )
                if isinstance(outcome, _Request):
                    request = outcome
                    continue
                return _result(outcome, request.url, address, time.monotonic() - started)
    except TimeoutError:
        raise FetchError("timeout", f"no complete answer within {timeout_seconds} s") from None
    raise FetchError("too_many_redirects", f"more than {max_redirects} redirects")


async def address_check(
    url: str, *, allow_private: bool = False, resolver: Resolver = system_resolver
) -> str:
    """Return the address to connect to for `url` under the policy of `fetch`, or raise
    `FetchError` (for clients that send their own requests, such as MCP connections)."""
    return await _checked_address(_parse_url(url), resolver, allow_private)


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    url: httpx.URL
    headers: dict[str, str]  # the tenant's headers only
    body: bytes | None


def _parse_url(url: str | httpx.URL) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError("bad_url", f"not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchError("bad_url", "only http and https URLs can be fetched")
    if not parsed.host:
        raise FetchError("bad_url", "the URL has no host")
    if parsed.userinfo:
        raise FetchError("bad_url", "credentials in the URL are not allowed; use a header")
    if _literal_address(parsed.host) is None and _NUMERIC_HOST.match(parsed.host):
        raise FetchError("bad_url", f"{parsed.host!r} is not a standard IP address form")
    return parsed


def url_target_check(url: str, *, allow_private: bool) -> None:
    """Raise `FetchError` for a URL that could never pass the address check.

    What needs no DNS is decided here (the URL's form, local names, literal addresses);
    a host name is resolved and checked again on every connection.
    """
    parsed = _parse_url(url)
    literal = _literal_address(parsed.host)
    _check_candidates(parsed, [literal] if literal is not None else [], allow_private)


def _check_candidates(url: httpx.URL, candidates: list[IPAddress], allow_private: bool) -> None:
    if allow_private:
        return
    host = url.raw_host.decode("ascii")
    if host == "localhost" or host.endswith(".localhost"):
        raise FetchError("forbidden_address", f"{host} is a local name")
    for candidate in candidates:
        if not is_public_address(candidate):
            raise FetchError(
                "forbidden_address", f"{host} is {candidate}, which is not a public address"
            )


async def _checked_address(url: httpx.URL, resolver: Resolver, allow_private: bool) -> str:
    """Return the address to connect to for `url`, after checking all of the host's addresses."""
    literal = _literal_address(url.host)
    if literal is not None:
        candidates = [literal]
    else:
        _check_candidates(url, [], allow_private)  # a local name is refused before DNS
        host = url.raw_host.decode("ascii")
        candidates = await _resolve(resolver, host, url.port or _default_port(url))
    _check_candidates(url, candidates, allow_private)
    return str(candidates[0])


async def _resolve(resolver: Resolver, host: str, port: int) -> list[IPAddress]:
    try:
        answers = await resolver(host, port)
    except OSError as exc:  # socket.gaierror included
        raise FetchError("dns_error", f"could not resolve {host}: {exc}") from None
    try:
        addresses = [ipaddress.ip_address(answer) for answer in answers]
    except ValueError as exc:
        raise FetchError("dns_error", f"could not resolve {host}: {exc}") from None
    if not addresses:
        raise FetchError("dns_error", f"{host} has no addresses")
    return addresses


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or int(address) >> 32 == 0:  # NAT64 or IPv4-compatible (::a.b.c.d)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _checked_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    checked = dict(headers or {})
    if len(checked) > MAX_REQUEST_HEADERS:
        raise FetchError("bad_request", f"more than {MAX_REQUEST_HEADERS} headers")
    if sum(len(name) + len(value) for name, value in checked.items()) > MAX_REQUEST_HEADER_BYTES:
        raise FetchError("bad_request", f"headers exceed {MAX_REQUEST_HEADER_BYTES} bytes")
    for name, value in checked.items():
        header_check(name, value)
    return checked


def header_check(name: str, value: str) -> None:
    """Raise `FetchError` unless `name` is an HTTP token and `value` one line of text.

    Also refuses the headers the fetch sets itself (framing, routing, proxies).
    """
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise FetchError("bad_request", f"header name {name!r} is not an HTTP token")
    if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
        raise FetchError("bad_request", f"header {name!r} must have one line of text as value")
    if name.lower() in _RESERVED_HEADERS:
        raise FetchError("bad_request", f"header {name!r} cannot be set")


def _with_json_body(request: _Request, json_body: Any) -> _Request:
    try:
        body = json.dumps(json_body, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise FetchError("bad_request", f"the body is not JSON: {exc}") from None
    if len(body) > MAX_REQUEST_BYTES:
        raise FetchError("too_large", f"the request body exceeds {MAX_REQUEST_BYTES} bytes")
    headers = dict(request.headers)
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return _Request(request.method, request.url, headers, body)


# --------------------------------------------------------------------------- one hop


@dataclass(frozen=True, slots=True)
class _Answer:
    response: httpx.Response
    body: bytes
    truncated: bool


async def _send(
    request: _Request,
    address: str,
    transport: httpx.AsyncBaseTransport | None,
    timeout_seconds: float,
    max_response_bytes: int,
) -> _Answer | _Request:
    """Send `request` to `address`; return the answer, or the next request of a redirect."""
    async with _hop_transport(transport) as hop_transport:
        try:
            response = await hop_transport.handle_async_request(
                _pinned(request, address, timeout_seconds)
            )
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECT_STATUSES and location:
                    return _redirected(request, response.status_code, location)
                body, truncated = await _read_body(response, max_response_bytes)
                return _Answer(response, body, truncated)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise TimeoutError from None  # reported with the call's overall limit
        except httpx.ConnectError as exc:
            raise FetchError("connect_error", f"could not connect to {address}: {exc}") from None
        except httpx.RemoteProtocolError as exc:
            raise FetchError("bad_response", f"malformed HTTP response: {exc}") from None
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
            raise FetchError("bad_request", f"the request cannot be sent: {exc}") from None
        except httpx.TransportError as exc:
            raise FetchError("network_error", f"{type(exc).__name__}: {exc}") from None


@asynccontextmanager
async def _hop_transport(
    injected: httpx.AsyncBaseTransport | None,
) -> AsyncIterator[httpx.AsyncBaseTransport]:
    if injected is not None:
        yield injected
        return
    # A fresh pool per hop: a connection is never reused for another name on the same IP.
    async with httpx.AsyncHTTPTransport(verify=_default_ssl_context(), retries=0) as transport:
        yield transport


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def _pinned_url(url: httpx.URL, address: str) -> httpx.URL:
    try:
        return url.copy_with(host=address)
    except httpx.InvalidURL as exc:
        raise FetchError("bad_url", f"cannot address {address}: {exc}") from None


def _pinned(request: _Request, address: str, timeout_seconds: float) -> httpx.Request:
    """Return the httpx request that goes to `address` but names the original host."""
    url = request.url
    pinned_url = _pinned_url(url, address)
    extensions: dict[str, Any] = {"timeout": dict.fromkeys(
        ("connect", "read", "write", "pool"), timeout_seconds
    )}  # fmt: skip
    if url.scheme == "https":
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    headers = {
        "Host": url.netloc.decode("ascii"),
        "Accept": "*/*",
        # Only counted bytes are decoded: a compressed body could inflate past any limit.
        "Accept-Encoding": "identity",
        "User-Agent": "chatkit-platform-http-tool",
        **request.headers,
    }
    return httpx.Request(
        request.method, pinned_url, headers=headers, content=request.body, extensions=extensions
    )


def _redirected(request: _Request, status: int, location: str) -> _Request:
    try:
        target = _parse_url(request.url.join(location))
    except httpx.InvalidURL as exc:
        raise FetchError("bad_url", f"bad redirect location: {exc}") from None
    # Tenant headers often carry secrets: they are not sent to another origin.
    headers = request.headers if _origin(target) == _origin(request.url) else {}
    method, body = request.method, request.body
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return _Request(method, target, headers, body)


async def _read_body(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _result(answer: _Answer, url: httpx.URL, address: str, elapsed: float) -> FetchResult:
    response = answer.response
    text = answer.body.decode(_encoding(response), errors="replace")
    data: Any = None
    if "json" in response.headers.get("content-type", "") and not answer.truncated:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    headers = {
        name: value[:MAX_RESULT_HEADER_VALUE]
        for name, value in list(response.headers.items())[:MAX_RESULT_HEADERS]
    }
    return FetchResult(
        status=response.status_code,
        headers=headers,
        body_text=text,
        body_json=data,
        truncated=answer.truncated,
        elapsed=elapsed,
        url=str(url),
        address=address,
    )


def _encoding(response: httpx.Response) -> str:
    name = response.charset_encoding or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def _origin(url: httpx.URL) -> tuple[str, bytes, int]:
    return url.scheme, url.raw_host, url.port or _default_port(url)


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


# --------------------------------------------------------------------------- other clients


class CheckedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends each request only to a checked address of its host.

    For a long-lived client of one service (a provider's base URL): every request's host is
    resolved and checked like `fetch` does, then the request goes to that address with
    `Host` and the TLS server name keeping the original name. A refusal raises
    `httpx.ConnectError`, which clients report as a connection failure. Give each client its
    own transport: its pool is keyed by address.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._inner = inner or httpx.AsyncHTTPTransport(verify=_default_ssl_context(), retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            url = _parse_url(request.url)
            address = await _checked_address(url, self._resolver, self._allow_private)
            pinned_url = _pinned_url(url, address)
        except FetchError as error:
            raise httpx.ConnectError(f"{error.reason}: {error}", request=request) from None
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = url.raw_host.decode("ascii")
        headers = httpx.Headers(request.headers)
        headers["Host"] = url.netloc.decode("ascii")
        pinned = httpx.Request(
            request.method, pinned_url, headers=headers, stream=request.stream,
            extensions=extensions,
        )  # fmt: skip
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()
