"""What the reliability tests share: child processes, a server in its own process,
waiting on observable conditions, and checking videos and journals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

import eco_widget
from tests.waiting import deadline_wait, line_within

REPO = Path(eco_widget.__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "child.py"
#: The longest any wait in these tests may take before it fails.
DEADLINE = 60.0
POLL_INTERVAL = 0.02


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: its own data folder, this checkout's
    package, no key or base URL from outside."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECOHASH_HOME": str(home), **extra}
    for name in ("ECOHASH_API_KEY", "ECOHASH_BASE_URL"):
        env.pop(name, None)
    return env


def start_child(home: Path, *args: str) -> subprocess.Popen[str]:
    """``tests/reliability/child.py ARGS`` in a new process, its stdin and stdout piped."""
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        env=child_env(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_event(stream: IO[str], process: subprocess.Popen[str]) -> dict[str, Any]:
    """The next JSON line a child prints (waits up to :data:`DEADLINE` for it); fails
    with the child's stderr if it exits first."""
    line = line_within(stream, DEADLINE, "the child's next event")
    if not line:
        process.wait(DEADLINE)
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"the child exited ({process.returncode}) first:\n{stderr}")
    return json.loads(line)


def kill(process: subprocess.Popen[Any]) -> None:
    """SIGKILL a process and reap it (a zombie would still look alive)."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(DEADLINE)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def submit_and_kill(
    home: Path,
    base_url: str,
    api_key: str,
    num_frames: int,
    on_submitted: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Run ``Client.generate`` in a child process and SIGKILL it as soon as it tells
    that its job was submitted (and journaled), after calling ``on_submitted``.
    Returns that first snapshot: ``id``, ``status``, ``seed``."""
    child = start_child(home, "generate", base_url, api_key, str(num_frames))
    try:
        submitted = read_event(child.stdout, child)
        if on_submitted is not None:
            on_submitted()
    finally:
        kill(child)
    assert submitted["event"] == "update", submitted
    return submitted


def wait_until(
    condition: Callable[[], Any], what: str, timeout: float = DEADLINE, interval: float = 0.02
) -> Any:
    """Poll ``condition`` until it returns something true, and return it."""
    return deadline_wait(condition, timeout, what, interval)


def wait_for_wall_clock(instant: float) -> None:
    """Return once ``time.time()`` has reached ``instant`` (a known moment, such as
    a URL's expiry)."""
    while (left := instant - time.time()) > 0:
        time.sleep(left)


class ServerProcess:
    """``ecovideo serve`` in its own process on a fixed port and data directory, so
    that it can be killed and started again in the same place."""

    def __init__(self, port: int, data_dir: Path, keys: Sequence[str], *options: str) -> None:
        self.port = port
        self.data_dir = data_dir
        self.keys = tuple(keys)
        self.options = options
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"serve-{port}.log"

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "eco_widget.cli", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), *self.options]
        for key in self.keys:
            command += ["--api-key", key]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=child_env(self.data_dir.parent / "server-home"), stderr=log
            )
        wait_until(self._ready, f"the server on port {self.port} to answer")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"the server exited ({self.process.returncode}):\n{self.log.read_text()}"
            )
        try:
            return httpx.get(self.url + "/openapi.json", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stats(self, key: str) -> dict[str, Any]:
        """The server's counters for ``key`` (``/_sandbox/stats``)."""
        response = httpx.get(
            self.url + "/_sandbox/stats", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def kill(self) -> None:
        if self.process is not None:
            kill(self.process)

    def stop(self) -> None:
        """Stop it gracefully (SIGINT, like Ctrl-C), or kill it if it does not stop."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            kill(process)


def frame_count(path: str | os.PathLike[str]) -> int:
    """Decode every frame of an MP4 with PyAV; return how many there are."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of a SQLite file (``"ok"`` when sound)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "; ".join(str(row[0]) for row in rows)
