"""A small production-shaped deployment of real processes for the multi-process test: web
processes (daphne), Celery workers and beat, on a database and a Redis of their own.

    with Deployment.create(tmp_dir, database_url, redis_url) as deployment:
        web = deployment.web("a")                    # returns once /healthz answers
        worker = deployment.worker("tools1", "long_tools", concurrency=2)  # once ready
        beat = deployment.beat(wait=False)           # starting, not yet ready...
        deployment.wait_ready(beat)                  # ...and ready (start several at once)
        ...
        web.kill()                                   # SIGKILL its whole process group

The database is created, migrated (`manage.py migrate`, as the image's migrate job does)
and dropped afterwards; the Redis database is the deployment's own, emptied before and
after. Every process gets the same DATABASE_URL, REDIS_URL (channel layer, cache and
broker) and secrets. No process outlives the `with`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import redis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
READY_SECONDS = 120.0
CELERY = [sys.executable, "-m", "celery", "-A", "chatkit_platform"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_execute(url: str, sql: str) -> None:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=5) as db:
        db.execute(sql)  # type: ignore[arg-type]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None
    ready: Callable[[], bool] = lambda: True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def children(self) -> set[int]:
        """Return the pids of this process's children (a Celery worker's pool processes)."""
        return {int(entry.name) for entry in Path("/proc").iterdir()
                if entry.name.isdigit() and self.is_child(int(entry.name))}  # fmt: skip

    def is_child(self, pid: int) -> bool:
        """Return whether `pid` is a child of this process (a Celery pool process)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return int(stat.rsplit(")", 1)[1].split()[1]) == self.popen.pid


@dataclass
class Deployment:
    tmp_dir: Path
    database_url: str
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    @classmethod
    @contextmanager
    def create(cls, tmp_dir: Path, server_url: str, redis_url: str) -> Iterator[Deployment]:
        name = f"{urlsplit(server_url).path.strip('/') or 'chatkit'}_multiprocess_{os.getpid()}"
        database_url = with_database(server_url, name)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chatkit_platform.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "SECRET_KEY": Fernet.generate_key().decode() * 2,
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "PLATFORM_DATA_DIR": str(tmp_dir / "data"),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_CONN_MAX_AGE": "0",
            "LOG_LEVEL": "info",
        }
        for unset in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):  # the offline demo model
            env.pop(unset, None)
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_execute(server_url, f'CREATE DATABASE "{name}"')
        deployment = cls(tmp_dir, database_url, env)
        # Queued tasks and run registrations an earlier run left name rows of another database.
        _flush(redis_url)
        try:
            deployment.manage("migrate", "--noinput")
            yield deployment
        finally:
            for process in deployment.processes:
                process.kill()
            admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _flush(redis_url)

    def run(self, command: list[str]) -> str:
        result = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True,
                                timeout=300)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def manage(self, *args: str) -> str:
        return self.run([sys.executable, "manage.py", *args])

    def shell(self, code: str) -> Any:
        """Run `code` in `manage.py shell`; return the JSON of its last printed line."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def _spawn(self, name: str, command: list[str], port: int | None = None) -> Process:
        log_path = self.tmp_dir / f"{name}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)  # fmt: skip
        process = Process(name, popen, log_path, port)
        self.processes.append(process)
        return process

    def web(self, name: str, *, wait: bool = True) -> Process:
        """Start a daphne process; return once /healthz answers, or at once if not `wait`."""
        port = free_port()
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                   "chatkit_platform.asgi:application"]  # fmt: skip
        process = self._spawn(name, command, port)
        process.ready = lambda: _answers(process.base_url + "/healthz")
        return self._started(process, wait)

    def worker(self, name: str, queues: str, *, concurrency: int, wait: bool = True) -> Process:
        command = [*CELERY, "worker", "-n", f"{name}@%h", "-Q", queues,
                   f"--concurrency={concurrency}",
                   "--loglevel=INFO", "--without-mingle", "--without-gossip"]  # fmt: skip
        process = self._spawn(name, command)
        process.ready = lambda: " ready." in process.log(tail=100_000)
        return self._started(process, wait)

    def beat(self, *, wait: bool = True) -> Process:
        schedule = self.tmp_dir / "celerybeat-schedule"
        command = [*CELERY, "beat", "--loglevel=INFO", f"--schedule={schedule}"]
        process = self._spawn("beat", command)
        process.ready = lambda: "beat: Starting" in process.log(tail=100_000)
        return self._started(process, wait)

    def _started(self, process: Process, wait: bool) -> Process:
        if wait:
            self.wait_ready(process)
        return process

    def wait_ready(self, *processes: Process) -> None:
        """Wait until every one of `processes` is ready (they start side by side meanwhile)."""
        deadline = time.monotonic() + READY_SECONDS
        waiting = list(processes)
        while waiting and time.monotonic() < deadline:
            for process in waiting:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited:\n{process.log()}")
            waiting = [process for process in waiting if not process.ready()]
            time.sleep(0.1)
        if waiting:
            names = ", ".join(process.name for process in waiting)
            logs = "\n".join(process.log() for process in waiting)
            raise RuntimeError(f"{names} not ready in {READY_SECONDS:g}s:\n{logs}")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as db:
            return db.execute(sql).fetchall()  # type: ignore[arg-type]


def _flush(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
