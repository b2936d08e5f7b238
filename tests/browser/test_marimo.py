"""VideoWidget in marimo (``marimo run``), in Chromium, against the embedded sandbox.

The notebook is written into a temporary folder and served by ``marimo run`` in a
subprocess with private ``HOME``/XDG folders (marimo writes its config, logs and state
there) and the sandbox (profile ``fast``) with its data in the same temporary folder.
Under ``marimo run`` each page gets its own kernel: a thread of the server process that
runs the cells, and the widget's custom messages, on one asyncio loop. marimo renders an
anywidget in a shadow root; Playwright's CSS locators see through it, ``document.
querySelector`` does not, so the page is read through locators here.
"""

from __future__ import annotations

import os
import site
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.jupyter import JOB_ID, deadline_wait, free_port

REPO = Path(__file__).resolve().parents[2]
PROMPT = "a paper lantern rising over a quiet lake at night"
VIDEO_WIDTH = 832
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
RENDER_TIMEOUT = 90.0
RUN_TIMEOUT = 120.0
#: Phases a run does not leave; only ``completed`` is what this test wants.
FINAL_PHASES = {"completed", "failed", "stopped", "error"}

NOTEBOOK = f"""
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    return (mo,)


@app.cell
def _():
    from eco_widget import VideoWidget

    w = VideoWidget(prompt={PROMPT!r}, num_frames=9, fps=8, num_inference_steps=20)
    return (w,)


@app.cell
def _(mo, w):
    mo.ui.anywidget(w)
    return


if __name__ == "__main__":
    app.run()
"""

#: What the widget's newest run (``.eco-current``) shows, and its ``<video>``'s state.
_CURRENT_JS = """
(roots) => roots.map((root) => {
  const current = root.querySelector('.eco-current');
  const card = current && current.querySelector('.eco-run');
  const video = current && current.querySelector('video');
  return {
    key: card ? card.dataset.key : null,
    phase: card ? card.dataset.phase : null,
    text: current ? current.innerText : '',
    readyState: video ? video.readyState : -1,
    videoWidth: video ? video.videoWidth : 0,
    earlier: root.querySelectorAll('.eco-history .eco-run').length,
  };
})
"""


@dataclass
class MarimoServer:
    """``marimo run`` of one notebook, and the folders its kernels write to."""

    url: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def log_path(self) -> Path:
        return self.root / "marimo.log"

    @property
    def sandbox_jobs(self) -> Path:
        """The sandbox server's job store (``JobStore``: ``jobs.sqlite3``, table ``jobs``)."""
        return self.root / "sandbox" / "jobs.sqlite3"

    @property
    def journal(self) -> Path:
        """The widget's job journal under ``ECOHASH_HOME``."""
        return self.root / "home" / "journal.sqlite3"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except FileNotFoundError:
            return ""

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"marimo run exited with {self.process.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        """Terminate the server (its kernel threads and the sandbox go with it); kill it
        if it lingers."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


def _server_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ECOHASH_API_KEY", None)
    private = root / "user"
    env.update(
        # marimo's config (found by walking up from the cwd, then in HOME, then XDG),
        # logs and state stay in the temporary folder; the user site stays importable.
        HOME=str(private),
        XDG_CONFIG_HOME=str(private / "config"),
        XDG_CACHE_HOME=str(private / "cache"),
        XDG_STATE_HOME=str(private / "state"),
        XDG_DATA_HOME=str(private / "data"),
        PYTHONUSERBASE=site.getuserbase(),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        MARIMO_SKIP_UPDATE_CHECK="1",
        ECOHASH_BASE_URL="sandbox",
        ECOHASH_SANDBOX_PROFILE="fast",
        ECOHASH_SANDBOX_DIR=str(root / "sandbox"),
        ECOHASH_HOME=str(root / "home"),
    )
    return env


@pytest.fixture(scope="module")
def marimo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarimoServer]:
    """``marimo run --headless`` of the widget notebook on a loopback port, no token."""
    root = tmp_path_factory.mktemp("marimo")
    (root / "sandbox").mkdir()
    (root / "user").mkdir()
    notebook = root / "nb.py"
    notebook.write_text(NOTEBOOK.lstrip(), encoding="utf-8")
    port = free_port()
    command = [
        sys.executable, "-m", "marimo", "run", "--headless",
        "--host", "127.0.0.1", "--port", str(port), "--no-token", notebook.name,
    ]  # fmt: skip
    with (root / "marimo.log").open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=_server_env(root),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = MarimoServer(url=f"http://127.0.0.1:{port}", root=root, process=process)
    try:
        deadline_wait(server.answers, STARTUP_TIMEOUT, "marimo run to answer")
        yield server
    finally:
        server.stop()


def _current(page: Any) -> dict[str, Any] | None:
    """The newest run as the widget shows it, or None before the widget is there."""
    states = page.locator(".eco-widget").evaluate_all(_CURRENT_JS)
    return states[0] if states else None


def _wait_completed_and_playing(
    page: Any, server: MarimoServer, not_key: str | None
) -> dict[str, Any]:
    """Wait until the widget's newest run is a new one (key other than ``not_key``),
    completed, and its ``<video>`` has a decoded frame. A run that ends otherwise
    (failed, stopped…) fails the test at once, with what the widget shows."""
    last: list[dict[str, Any] | None] = [None]

    def ready() -> dict[str, Any] | None:
        state = last[0] = _current(page)
        if state is None or state["key"] is None or state["key"] == not_key:
            return None
        if state["phase"] in FINAL_PHASES - {"completed"}:
            pytest.fail(
                f"run {state['key']} ended {state['phase']}: {state['text']!r}\n"
                f"marimo log:\n{server.log()}",
                pytrace=False,
            )
        playable = state["readyState"] >= 2 and state["videoWidth"] > 0
        return state if state["phase"] == "completed" and playable else None

    try:
        return deadline_wait(ready, RUN_TIMEOUT, "a new run to complete and play", 0.1)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; the widget shows {last[0]}\n{server.log()}") from None


def _sandbox_job_ids(path: Path) -> list[str]:
    with closing(sqlite3.connect(path, timeout=10)) as db:
        return sorted(row[0] for row in db.execute("SELECT id FROM jobs"))


def _journal_job_ids(path: Path) -> list[str]:
    with closing(sqlite3.connect(path, timeout=10)) as db:
        return sorted(row[0] for row in db.execute("SELECT job_id FROM jobs"))


@pytest.mark.slow
def test_generate_twice_in_marimo_run(marimo_server: MarimoServer, page) -> None:
    page.goto(marimo_server.url)
    widget = page.locator(".eco-widget")
    widget.wait_for(state="visible", timeout=RENDER_TIMEOUT * 1000)
    generate = widget.get_by_role("button", name="Generate", exact=True)
    generate.wait_for(state="visible")

    generate.click()
    first = _wait_completed_and_playing(page, marimo_server, not_key=None)
    first_ids = JOB_ID.findall(first["text"])

    generate.click()
    second = _wait_completed_and_playing(page, marimo_server, not_key=first["key"])
    second_ids = JOB_ID.findall(second["text"])

    assert len(set(first_ids)) == 1, first
    assert len(set(second_ids)) == 1, second
    job_ids = sorted({first_ids[0], second_ids[0]})
    assert len(job_ids) == 2, (first, second)
    assert first["videoWidth"] == VIDEO_WIDTH
    assert second["videoWidth"] == VIDEO_WIDTH
    assert second["earlier"] == 1, second
    assert _sandbox_job_ids(marimo_server.sandbox_jobs) == job_ids
    assert _journal_job_ids(marimo_server.journal) == job_ids
