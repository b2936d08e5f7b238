"""``process_running``: the liveness test behind the server's orphan claim and the
widget's resume offer. It asks psutil (never ``os.kill(pid, 0)``, which on Windows is
a Ctrl+C to a whole process group) and a zombie counts as gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from eco_widget._process import process_running

DEADLINE = 15.0


def test_this_process_runs_and_a_reaped_child_does_not():
    assert process_running(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(DEADLINE)
    assert not process_running(child.pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zombies as Linux shows them")
def test_a_zombie_is_not_running():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + DEADLINE
        # Exited, not reaped: a zombie until wait(). Poll its state, never reap it here.
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        assert not process_running(child.pid)
    finally:
        child.wait(DEADLINE)


@pytest.mark.parametrize("pid", [0, -1, -os.getpid(), 2**31 - 1, True])
def test_process_groups_and_impossible_pids_are_not_running(pid):
    assert not process_running(pid)


def test_it_asks_psutil(monkeypatch):
    monkeypatch.setattr(psutil, "pid_exists", lambda pid: False)
    assert not process_running(os.getpid())


def test_another_users_process_counts_as_running(monkeypatch):
    def denied(self):
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "status", denied)
    assert process_running(os.getpid())


def test_import_eco_widget_does_not_import_psutil():
    code = "import sys, eco_widget; print('psutil' in sys.modules)"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
