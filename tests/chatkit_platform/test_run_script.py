"""The run command's server half: daphne and a Celery worker, stopped together by Ctrl-C."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.live


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The parent pid is the 2nd field after the parenthesised command name.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            child = int(entry.name)
            found |= {child, *_descendants(child)}
    return found


def _session(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[3])


def _in_sessions(sessions: set[int]) -> list[int]:
    """Return the live processes of these sessions (a late child is found too)."""
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return [pid for pid in pids if _session(pid) in sessions and _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_run_script_serves_until_stopped_and_leaves_no_process(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "PLATFORM_DATA_DIR": str(tmp_path)}
    env["DATABASE_URL"] = env.get("DATABASE_URL") or f"sqlite:///{tmp_path}/db.sqlite3"
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    proc = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        # Wait until the worker process tree is up before interrupting it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_descendants(proc.pid)) < 3:
            time.sleep(0.5)
        children = _descendants(proc.pid)
        assert len(children) >= 3, children
        # The worker runs in a session of its own; anything it starts later (the embedded
        # beat process) stays in that session, so checking sessions finds it too.
        sessions = {sid for sid in map(_session, {proc.pid, *children}) if sid is not None}
        # Ctrl-C in a terminal, like `timeout` or a supervisor, signals the whole group.
        os.killpg(proc.pid, stop_signal)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)]
        assert not _in_sessions(sessions)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
