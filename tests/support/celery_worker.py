"""Real Celery worker processes for tests, on the test database and the test broker.

    with isolated_broker(tmp_dir) as broker:        # once per test module
        worker = CeleryWorker.start(broker, tmp_dir)   # returns once the worker answers a ping
        ...
        worker.kill_pool_child(pid) / worker.kill()    # SIGKILL a pool process / everything
        worker.stop()                                  # always: no process is left behind

`isolated_broker` gives the run a long-tool queue of its own (named after this process),
so concurrent test runs sharing a broker never take each other's messages, and, on the
embedded file broker, a folder of its own under `tmp_dir`, so dead test workers leave
nothing behind in the platform's data folder. The worker process gets the same database
(DATABASE_URL built from the test connection), broker and secrets as the test process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import connection
from django.test import override_settings

from chatkit_platform.celery import app as celery_app

__all__ = [
    "CeleryWorker",
    "WorkerBroker",
    "database_url",
    "isolated_broker",
    "purge_queue",
]

BASE_DIR = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
TOOLS_MODULE = "tests.support.long_test_tools"
# Generous: on a loaded machine a worker can take tens of seconds to start.
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 5.0
_numbers = count(1)


@dataclass(frozen=True)
class WorkerBroker:
    queue: str
    # The worker's PLATFORM_DATA_DIR when the broker is the file one (its folders live there).
    data_dir: Path | None


def _reset_producer_pools() -> None:
    # Connections made before a change of broker options would keep the old folders.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None


def purge_queue(queue: str) -> None:
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


@contextmanager
def isolated_broker(tmp_dir: Path) -> Iterator[WorkerBroker]:
    """Route long tool calls to a queue (and file-broker folder) of this test run."""
    queue = f"{settings.CELERY_LONG_TOOL_QUEUE}_test_{os.getpid()}"
    data_dir = None
    previous_options = dict(celery_app.conf.broker_transport_options or {})
    if celery_app.conf.broker_url.startswith("filesystem://"):
        data_dir = tmp_dir / "data"
        folders = {name: data_dir / "broker" / name for name in ("queue", "processed", "control")}
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        celery_app.conf.broker_transport_options = previous_options | {
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
        }
        _reset_producer_pools()
    override = override_settings(CELERY_LONG_TOOL_QUEUE=queue)
    override.enable()
    try:
        purge_queue(queue)
        yield WorkerBroker(queue=queue, data_dir=data_dir)
    finally:
        with suppress(Exception):
            purge_queue(queue)
        override.disable()
        if data_dir is not None:
            celery_app.conf.broker_transport_options = previous_options
            _reset_producer_pools()


def database_url() -> str:
    """Return a DATABASE_URL naming the database the tests use (after pytest-django set it up)."""
    config: dict[str, Any] = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(config['NAME']).resolve()}"
    user = quote(config.get("USER") or "")
    password = quote(config.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{config['PORT']}" if config.get("PORT") else ""
    query = f"?{urlencode(config['OPTIONS'])}" if config.get("OPTIONS") else ""
    return f"postgres://{auth}{config.get('HOST') or 'localhost'}{port}/{config['NAME']}{query}"


def _worker_env(broker: WorkerBroker) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="chatkit_platform.settings",
        DATABASE_URL=database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        ENCRYPTION_KEYS=",".join(settings.ENCRYPTION_KEYS),
        PYTHONPATH=os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")])),
        LOG_LEVEL="info",
        # An idle worker then holds no connection, so none outlives a killed worker for long
        # enough to stop the test database from being dropped.
        DATABASE_CONN_MAX_AGE="0",
    )
    if broker.data_dir is not None:
        env["PLATFORM_DATA_DIR"] = str(broker.data_dir)
    return env


@dataclass
class CeleryWorker:
    """One `celery worker` process group (main process and its single pool process)."""

    nodename: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, broker: WorkerBroker, tmp_dir: Path, *, queue: str = "") -> CeleryWorker:
        """Start a worker on `queue` (the run's queue by default); return once it answers."""
        number = next(_numbers)
        nodename = f"longtools{number}-{os.getpid()}@{socket.gethostname()}"
        log_path = tmp_dir / f"worker{number}.log"
        command = [
            str(CELERY), "-A", "chatkit_platform", "worker",
            "-Q", queue or broker.queue, "-n", nodename, "--include", TOOLS_MODULE,
            "--pool=prefork", "--concurrency=1", "--loglevel=INFO",
            # Nothing to synchronise with in a test: these only slow the start down.
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=_worker_env(broker),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as one
            )
        worker = cls(nodename, process, log_path)
        try:
            worker.wait_ready()
        except BaseException:
            worker.stop()
            raise
        return worker

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()}")
            try:
                if celery_app.control.ping(destination=[self.nodename], timeout=0.3):
                    return
            except ValueError:
                # The file broker can hand a reply file over before its writer has filled
                # it (seen on a loaded machine): the next ping asks again.
                continue
        raise RuntimeError(f"worker did not answer a ping in {timeout:g}s:\n{self.log()}")

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def is_pool_child(self, pid: int) -> bool:
        """Return whether `pid` is a pool process of this worker (Linux /proc)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False
        # The command name (2nd field) is in parentheses and may contain spaces.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        return parent == self.process.pid

    def kill_pool_child(self, pid: int) -> None:
        assert self.is_pool_child(pid), f"{pid} is not a pool process of {self.nodename}"
        os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole worker (main and pool processes), as a crash would."""
        self.stop()

    def stop(self) -> None:
        """Kill the worker's whole process group and reap it; safe to call more than once.

        No warm shutdown: it takes seconds, and a test worker has nothing left to finish.
        """
        self._signal_group(signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def _signal_group(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
