"""The command line as a user without the power to bypass file permissions (run as root,
the tests drop the capabilities that bypass them with ``setpriv``), and the command
line's own bounds: a journal, data folder or
output that cannot be written is found before anything is billed; ``--timeout`` bounds
the whole call; Ctrl-C during ``ecovideo batch`` submits nothing more. Against the
misbehaving server of :mod:`tests.hostile.fake_api`; every test asserts its POST count.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import deadline_wait

REPO = Path(__file__).resolve().parents[2]
KEY = "eco_hostile_cli_key"
SETPRIV = shutil.which("setpriv")
#: Root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH obeys files' owner bits.
NO_BYPASS = ("--bounding-set=-dac_override,-dac_read_search",)


def ecovideo(
    *args: str, home: Path, url: str, unprivileged: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "eco_widget.cli", *args]
    if unprivileged and os.geteuid() == 0:  # root bypasses permissions: drop that power
        assert SETPRIV is not None, "setpriv (util-linux) is needed to drop root's powers"
        command = [SETPRIV, *NO_BYPASS, *command]
    env = {
        **os.environ,
        "ECOHASH_HOME": str(home),
        "ECOHASH_API_KEY": KEY,
        "ECOHASH_BASE_URL": url,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout
    )


def open_to_all(path: Path, mode: int = 0o777) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    return path


@pytest.fixture
def room(tmp_path: Path) -> Path:
    return open_to_all(tmp_path / "room")


def test_a_read_only_journal_stops_the_job_before_it_is_billed(api, room):
    server = api()
    home = open_to_all(room / "home", 0o755)  # root's: an unprivileged user cannot add files here
    journal = home / "journal.sqlite3"
    sqlite3.connect(journal).execute("CREATE TABLE t (x)").connection.close()
    journal.chmod(0o444)
    out = open_to_all(room / "out")

    done = ecovideo(
        "generate",
        "a cat",
        "-o",
        str(out / "cat.mp4"),
        home=home,
        url=server.url,
        unprivileged=True,
    )

    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(journal) in lines[0], done.stderr
    assert server.posts == 0
    assert list(out.iterdir()) == []


def test_a_data_folder_nobody_can_write_stops_the_job_before_it_is_billed(api, room):
    server = api()
    home = open_to_all(room / "home", 0o555)
    done = ecovideo("generate", "a cat", home=home, url=server.url, unprivileged=True)
    assert done.returncode != 0
    assert str(home) in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert server.posts == 0


def test_an_output_folder_an_unprivileged_user_cannot_write_stops_the_job(api, room):
    server = api()
    home = open_to_all(room / "home")
    locked = open_to_all(room / "locked", 0o555)
    done = ecovideo(
        "generate",
        "a cat",
        "-o",
        str(locked / "cat.mp4"),
        home=home,
        url=server.url,
        unprivileged=True,
    )
    assert done.returncode != 0
    assert str(locked) in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert server.posts == 0
    assert list(locked.iterdir()) == []


def _rows(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "journal.sqlite3") as db:
        return db.execute("SELECT job_id, status FROM jobs").fetchall()


def test_a_device_given_as_output_is_refused_and_left_alone(api, tmp_path):
    server = api()
    device = tmp_path / "null"
    os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))  # a character device, as /dev/null
    done = ecovideo("generate", "a cat", "-o", str(device), home=tmp_path / "home", url=server.url)
    assert done.returncode != 0 and str(device) in done.stderr
    assert os.stat(device).st_rdev == os.makedev(1, 3)
    assert server.posts == 0


def test_timeout_bounds_a_server_that_answers_429_forever(api, tmp_path):
    server = api(submit="429")
    done = ecovideo("generate", "a cat", "--timeout", "2.5", home=tmp_path / "home", url=server.url)
    assert done.returncode == 1
    assert 1 <= server.posts <= 3  # Retry-After 1 s: at most three tries in 2.5 s
    assert "429" in done.stderr or "rate" in done.stderr.lower()


def test_ctrl_c_during_a_batch_submits_nothing_more(api, tmp_path):
    server = api(status="processing")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"prompt number {i}\n" for i in range(200)))
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, "-m", "eco_widget.cli", "batch", str(prompts), "--quiet"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "ECOHASH_HOME": str(home),
            "ECOHASH_API_KEY": KEY,
            "ECOHASH_BASE_URL": server.url,
        },
    )
    deadline_wait(lambda: server.posts >= 5, 30, "the first five jobs to be submitted")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert server.posts == 5  # the five that had a slot; none of the 195 others
    assert len(_rows(home)) == 5
