"""The platform served by a real ASGI server process (daphne or uvicorn) for tests.

    server = LiveServer.start("daphne", tmp_dir, env={"OPENAI_BASE_URL": stub.base_url})
    httpx.get(server.url("/healthz"))
    server.stop()                         # always: no process is left behind

The process runs `chatkit_platform.asgi:application` on a free loopback port, on the test
database (DATABASE_URL built from the test connection, as for the Celery test workers), with
the test process's secrets, and with REDIS_URL when the test run has one (channel layer,
cache and limits then shared with the test process). `start` returns once `/healthz`
answers. Its output goes to a log file, shown by `log()` when something fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Literal

import httpx
from django.conf import settings

from tests.support.celery_worker import database_url

__all__ = ["LiveServer", "ServerKind", "free_port"]

BASE_DIR = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
ServerKind = Literal["daphne", "uvicorn"]
_numbers = count(1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _command(kind: ServerKind, port: int) -> list[str]:
    app = "chatkit_platform.asgi:application"
    if kind == "daphne":
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--lifespan", "off", "--no-access-log",
    ]  # fmt: skip


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="chatkit_platform.settings",
        DATABASE_URL=database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        ENCRYPTION_KEYS=",".join(settings.ENCRYPTION_KEYS),
        PYTHONPATH=os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")])),
        LOG_LEVEL="info",
        # No connection outlives a request, so the test database can always be dropped.
        DATABASE_CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
    )
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(extra)
    return env


@dataclass
class LiveServer:
    kind: ServerKind
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls, kind: ServerKind, tmp_dir: Path, *, env: dict[str, str] | None = None
    ) -> LiveServer:
        port = free_port()
        log_path = tmp_dir / f"{kind}{next(_numbers)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                _command(kind, port),
                cwd=BASE_DIR,
                env=_env(env or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, stopped as one
            )
        server = cls(kind, port, process, log_path)
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited with {self.process.returncode}:\n{self.log()}"
                )
            with suppress(httpx.HTTPError):
                if httpx.get(self.url("/healthz"), timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} did not answer in {timeout:g}s:\n{self.log()}")

    def log(self, tail: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL); safe to call twice."""
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def _signal_group(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
