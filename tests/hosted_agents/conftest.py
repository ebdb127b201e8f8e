import asyncio
import datetime
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# openai-agents exports nothing here: the platform's app config installs only its own
# in-memory trace processor (hosted_agents/tracing.py; test_runtime_traces.py checks it).


# --------------------------------------------------------------------------- local HTTP server


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class LocalServer:
    """A tiny HTTP/1.1 server on a loopback address; each answer names the server.

    Routes: /json (JSON naming server and Host header), /echo (the request as JSON),
    /redirect?to=URL&status=302, /big?size=N (N bytes of "x"), /slow (headers, then waits).
    """

    name: str
    host: str
    port: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    server_names: list[str] = field(default_factory=list)  # TLS SNI values seen
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str = "/json", *, host: str | None = None, scheme: str = "http") -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = dict(
                (name.strip().lower(), value.strip())
                for name, value in (line.split(":", 1) for line in lines if ":" in line)
            )
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(SeenRequest(method, target, headers, body))
            await self._answer(writer, method, target, headers, body)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _answer(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        parts = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if parts.path == "/redirect":
            status = query.get("status", "302")
            writer.write(
                f"HTTP/1.1 {status} Moved\r\nLocation: {query['to']}\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
        elif parts.path == "/big":
            size = int(query["size"])
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
            for start in range(0, size, 4096):
                writer.write(b"x" * min(4096, size - start))
                await writer.drain()
        elif parts.path == "/slow":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            await writer.drain()
            await asyncio.sleep(30)
        else:
            answer: dict[str, object] = {
                "server": self.name,
                "host": headers.get("host"),
                "method": method,
            }
            if parts.path == "/echo":
                answer |= {"headers": headers, "body": body.decode()}
            payload = json.dumps(answer).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
        await writer.drain()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


StartServer = Callable[..., Awaitable[LocalServer]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start `LocalServer`s (name, host, port, tls) that are all stopped after the test."""
    servers: list[tuple[LocalServer, asyncio.Server]] = []

    async def start(
        name: str = "local",
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> LocalServer:
        local = LocalServer(name=name, host=host)
        if tls is not None:
            tls.sni_callback = lambda _sock, server_name, _ctx: local.server_names.append(
                server_name or ""
            )
        server = await asyncio.start_server(local.handle, host, port, ssl=tls)
        local.port = server.sockets[0].getsockname()[1]
        servers.append((local, server))
        return local

    yield start
    for local, server in servers:
        server.close()
        await local.stop()
        await server.wait_closed()


@pytest.fixture
async def local_server(start_server: StartServer) -> LocalServer:
    return await start_server()


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Certificate:
    host_name: str
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_file))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for api.example.test (a name no real DNS answers)."""
    host_name = "api.example.test"
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(host_name, cert_file, key_file)
