"""The run command's server half (scripts/run.sh): daphne, the two workers and the banner,
stopped together by Ctrl-C or SIGTERM whatever stdout is, leaving no process behind."""

import os
import re
import signal
import socket
import subprocess
import sys
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


# How each case starts the script: the shell line and where its stdout goes.
STARTS = {
    # `make run | tee run.log`: Ctrl-C ends tee first, so stdout is a closed pipe.
    "tee": ("scripts/run.sh | tee run.log", False),
    # Started in the background by a script: the shell leaves SIGINT ignored.
    "sigint-ignored": ("trap '' INT; exec scripts/run.sh > run.log", False),
    "devnull": ("exec scripts/run.sh", True),
}
CASES = [
    ("ctrl-c", "tee"),
    ("ctrl-c", "sigint-ignored"),
    ("term", "tee"),
    ("term", "devnull"),
]
SIGNALS = {"ctrl-c": signal.SIGINT, "term": signal.SIGTERM}


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None


@pytest.fixture(scope="module")
def run_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A data folder and database with the demo in it, shared by the cases (one at a time)."""
    folder = tmp_path_factory.mktemp("run")
    env = {**os.environ, "PLATFORM_DATA_DIR": str(folder / "data")}
    env["DATABASE_URL"] = env.get("DATABASE_URL") or f"sqlite:///{folder}/db.sqlite3"
    # The interpreter running the tests, not the checkout's .venv: any environment works.
    env["PYTHON"] = sys.executable
    for command in (["migrate", "--noinput", "-v0"], ["demo_setup", "--quiet"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=180,
            stdout=subprocess.DEVNULL,
        )
    return env


def _check_styled_admin(base: str) -> None:
    page = httpx.get(f"{base}/admin/login/", timeout=10)
    assert page.status_code == 200
    stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', page.text)
    assert stylesheets, page.text[:500]
    for stylesheet in stylesheets:
        css = httpx.get(base + stylesheet, timeout=10)
        assert css.status_code == 200, stylesheet
        assert css.headers["content-type"].startswith("text/css")
    assert httpx.get(f"{base}/", timeout=10).headers["location"] == "/console/"


@pytest.mark.parametrize(("stop", "start"), CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_run_script_serves_until_stopped_and_leaves_no_process(
    run_env: dict[str, str], tmp_path: Path, stop: str, start: str
) -> None:
    port = _free_port()
    env = {**run_env, "PORT": str(port)}
    line, quiet = STARTS[start]
    log = tmp_path / "run.log"
    proc = subprocess.Popen(
        ["bash", "-c", line.replace("run.log", str(log))],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            response = _get(f"{base}/readyz")
            return response is not None and response.status_code == 200

        _wait_for(ready, 120, "/readyz")
        _check_styled_admin(base)
        if not quiet:
            # The banner comes once the services are up, and it is the last thing printed.
            _wait_for(lambda: "Stop:" in log.read_text(), 120, "the banner")
            output = log.read_text()
            banner = output[output.index("Demo ready.") :].strip().splitlines()
            assert banner[-1].strip().startswith("Stop:"), output[-2000:]
            assert all(not row or row.startswith("  ") for row in banner[1:]), output[-2000:]
        # Wait until both workers' pools are up before interrupting them.
        _wait_for(lambda: len(_descendants(proc.pid)) >= 7, 60, "the process tree")
        children = _descendants(proc.pid)
        # Every service runs in a session of its own; anything it starts later (the
        # embedded beat process) stays in that session, so checking sessions finds it too.
        sessions = {sid for sid in map(_session, {proc.pid, *children}) if sid is not None}
        # Ctrl-C in a terminal, like `timeout` or a supervisor, signals the whole group.
        os.killpg(proc.pid, SIGNALS[stop])
        status = proc.wait(timeout=90)
        if start != "tee":  # a pipeline's status is tee's
            assert status == 0
        _wait_for(lambda: not any(_alive(pid) for pid in children), 30, "the children to end")
        assert not _in_sessions(sessions)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in _descendants(proc.pid):
            os.kill(pid, signal.SIGKILL)
