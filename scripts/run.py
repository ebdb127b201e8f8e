"""Serve the platform until Ctrl-C or SIGTERM, with everything a run needs beside it.

    web              daphne on HOST:PORT (access log in <data dir>/log/access.log)
    tools worker     Celery, queues default and long_tools (long tool calls take minutes)
    platform worker  Celery, queue platform (the sweep and other short platform tasks) and
                     the beat scheduler, so a pool full of long calls never delays them
    banner           `manage.py demo_info --wait`: the demo sign-in, once the rest is up

Every service runs in a session of its own, so only this process sees Ctrl-C; it stops
them all, warm first and killed after STOP_SECONDS (a second Ctrl-C kills at once). If a
service exits, the others are stopped too. Signals are handled whatever stdout is (a
terminal, a closed `| tee`, /dev/null) and even if the starting shell ignored SIGINT.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
POLL_SECONDS = 0.2


class Supervisor:
    def __init__(self) -> None:
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.helpers: list[subprocess.Popen[bytes]] = []
        self.signals: list[int] = []

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.services[name] = _spawn(command, env)

    def run(self) -> int:
        """Wait until a signal comes or a service exits; return the exit status."""
        while not self.signals:
            for name, process in self.services.items():
                if process.poll() is not None:
                    say(f"{name} exited with status {process.returncode}; stopping the rest.")
                    return process.returncode or 1
            time.sleep(POLL_SECONDS)
        return 0

    def stop(self, stop_seconds: float) -> None:
        say("\nStopping...")
        seen = len(self.signals)
        processes = [*self.services.values(), *self.helpers]
        for process in processes:
            _signal(process, signal.SIGTERM, group=False)
        deadline = time.monotonic() + stop_seconds
        while time.monotonic() < deadline and len(self.signals) <= seen:
            if all(process.poll() is not None for process in processes):
                break
            time.sleep(POLL_SECONDS)
        # Whatever is left goes, with every process of its session: the embedded beat
        # process does not always stop with its worker, and a pool child may linger.
        for process in processes:
            _signal(process, signal.SIGKILL, group=True)
            process.wait()


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own: a pool child killed directly by a group-wide Ctrl-C can die
    # holding the pool's queue lock, and the worker's main process then waits forever.
    return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip


def _signal(process: subprocess.Popen[bytes], signum: int, *, group: bool) -> None:
    with suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(process.pid, signum)
        elif process.poll() is None:
            process.send_signal(signum)


def say(text: str) -> None:
    """Print a line; once stdout is gone (a `| tee` ended by Ctrl-C), print nothing more."""
    try:
        print(text, flush=True)
    except (BrokenPipeError, OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    stop_seconds = float(os.environ.get("STOP_SECONDS", "30"))
    data_dir = ROOT / os.environ.get("PLATFORM_DATA_DIR", "var")
    (data_dir / "log").mkdir(parents=True, exist_ok=True)
    node = f"{os.getpid()}@{socket.gethostname()}"
    # The workers keep to warnings, so the banner stays on screen; WORKER_LOG_LEVEL=info
    # shows every task.
    worker_env = {**os.environ, "LOG_LEVEL": os.environ.get("WORKER_LOG_LEVEL", "warning")}
    celery = [PYTHON, "-m", "celery", "-A", "chatkit_platform", "--quiet", "worker",
              "--loglevel=WARNING", "--without-gossip", "--without-mingle"]  # fmt: skip

    supervisor = Supervisor()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.on_signal)
    try:
        supervisor.start(
            "web",
            [PYTHON, "-m", "daphne", "-b", host, "-p", port,
             "--access-log", str(data_dir / "log" / "access.log"),
             "chatkit_platform.asgi:application"],
            dict(os.environ),
        )  # fmt: skip
        supervisor.start(
            "tools worker",
            [*celery, "-n", f"tools-{node}", "--queues=default,long_tools", "--concurrency=2"],
            worker_env,
        )
        supervisor.start(
            "platform worker",
            [*celery, "-n", f"platform-{node}", "--queues=platform", "--concurrency=1",
             "--beat", f"--schedule={data_dir / 'celerybeat-schedule'}"],
            worker_env,
        )  # fmt: skip
        supervisor.helpers.append(
            _spawn(
                [PYTHON, "manage.py", "demo_info", "--wait", "--host", host, "--port", port,
                 "--workers", f"tools-{node},platform-{node}"],
                dict(os.environ),
            )
        )  # fmt: skip
        status = supervisor.run()
    finally:
        supervisor.stop(stop_seconds)
    return status


if __name__ == "__main__":
    sys.exit(main())
