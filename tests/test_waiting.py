"""No test waits for ever: the waits of tests/waiting.py end in an error that says what
never happened, and a test that hangs anyway is ended by the suite's per-test timeout."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.waiting import deadline_wait, event_wait, joined, line_within, within

REPO = Path(__file__).resolve().parents[1]
HANGS = """
import threading

def test_hangs():
    threading.Thread(target=threading.Event().wait, name="stuck", daemon=True).start()
    threading.Event().wait()
"""


def test_each_wait_fails_naming_what_never_happened():
    with pytest.raises(TimeoutError, match="waiting for the flag"):
        deadline_wait(lambda: False, 0.05, "the flag", 0.01)
    with pytest.raises(TimeoutError, match="waiting for the event"):
        event_wait(threading.Event(), 0.05, "the event")
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="sleeper", daemon=True)
    thread.start()
    try:
        with pytest.raises(TimeoutError, match="waiting for thread 'sleeper' to end"):
            joined(thread, 0.05)
    finally:
        release.set()
    joined(thread, 10)


def test_a_line_from_a_child_comes_or_the_wait_ends():
    with subprocess.Popen(
        [sys.executable, "-c", "print('ready', flush=True); input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert line_within(child.stdout, 60, "ready") == "ready\n"
            with pytest.raises(TimeoutError, match="waiting for a second line"):
                line_within(child.stdout, 0.2, "a second line")
        finally:
            child.kill()
            child.wait(60)


def test_within_returns_raises_or_times_out():
    async def main() -> None:
        assert await within(asyncio.sleep(0, "done"), 10, "a nap") == "done"
        with pytest.raises(KeyError):
            await within(asyncio.get_running_loop().run_in_executor(None, {}.pop, 1), 10, "x")
        never = asyncio.get_running_loop().create_future()
        with pytest.raises(TimeoutError, match="waiting for the answer"):
            await within(never, 0.05, "the answer")
        assert never.cancelled()

    asyncio.run(main())


def test_the_suite_ends_a_hung_test_and_shows_every_thread(request, tmp_path):
    assert request.config.getini("timeout_method") == "thread"
    assert float(request.config.getini("timeout")) >= 120
    (tmp_path / "test_hang.py").write_text(HANGS)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(REPO / "pyproject.toml"),
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=2",  # the project's settings, with a shorter limit
            str(tmp_path / "test_hang.py"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert " Timeout +" in output, output
    # Where each thread was, the test's own included; the run ends there.
    assert "Stack of MainThread" in output and "Stack of stuck" in output, output
    assert "in test_hangs" in output and " failed" not in output, output
