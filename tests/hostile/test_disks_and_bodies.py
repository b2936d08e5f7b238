"""Hostile bodies, hostile targets, endless waits: what a server sends is checked before
it is kept, where a video would go is checked before the job is billed, and a timeout
bounds the whole call. Each test plays the hostile party for real (a misbehaving server
on a loopback port, FIFOs and device nodes in a temporary folder) and asserts how many
jobs reached the server."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eco_widget import (
    Client,
    JobTimeoutError,
    OutputPathError,
    RateLimitError,
    SlotTimeoutError,
    UnexpectedResponseError,
    VideoNotSavedError,
    VideoTooLargeError,
)
from eco_widget._journal import Journal
from tests.conftest import FAST_POLL
from tests.hostile.fake_api import JOB_ID, MP4_HEAD, FakeApi

REPO = Path(__file__).resolve().parents[2]
KEY = "eco_hostile_key"


@pytest.fixture(autouse=True)
def home(monkeypatch, tmp_path) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("ECOHASH_HOME", str(folder))
    return folder


def client(server: FakeApi, **kwargs) -> Client:
    return Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL, **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- bodies ------------------------------------------------------------------------------
@pytest.mark.parametrize("body", ["html", "zeros"])
def test_a_body_that_is_not_an_mp4_is_refused_and_nothing_is_left(api, tmp_path, home, body):
    server = api(video=body)
    out = tmp_path / "out"
    with client(server) as c, pytest.raises(UnexpectedResponseError) as info:
        c.generate("a hostile body", num_frames=1, path=out / "clip.mp4")
    assert "not an MP4" in str(info.value) and JOB_ID in str(info.value)
    assert leftovers(out) == []  # no clip, no partial file
    with client(server, autosave=False) as c, pytest.raises(UnexpectedResponseError):
        c.download(c.get(JOB_ID))  # to memory: refused the same way
    assert server.posts == 1
    [entry] = Journal()
    assert entry.job_id == JOB_ID and entry.saved_path is None  # still known, not lost


def test_a_body_announced_over_the_limit_is_refused_before_it_is_read(api, tmp_path):
    server = api(video="huge")
    with client(server, max_video_bytes=1_000_000) as c, pytest.raises(VideoTooLargeError) as info:
        c.generate("ten gigabytes", num_frames=1, path=tmp_path / "out" / "clip.mp4")
    assert info.value.size == 10 * 1024**3 and info.value.limit == 1_000_000
    assert JOB_ID in str(info.value) and "max_video_bytes" in str(info.value)
    assert leftovers(tmp_path / "out") == []
    assert server.posts == 1


@pytest.mark.parametrize("where", ["memory", "file"])
def test_an_endless_body_is_cut_at_the_limit(api, tmp_path, where):
    server = api(video="endless")
    limit = 3 * 1024 * 1024
    target = None if where == "memory" else tmp_path / "out" / "clip.mp4"
    with (
        client(server, autosave=False, max_video_bytes=limit) as c,
        pytest.raises(VideoTooLargeError) as info,
    ):
        c.generate("an endless stream", num_frames=1, path=target)
    assert limit < info.value.size <= limit + 65536  # stopped at the chunk past the limit
    assert leftovers(tmp_path / "out") == []
    assert server.posts == 1


def test_the_default_limit_is_far_above_a_real_clip(api):
    server = api()
    with client(server) as c:
        assert c._max_video_bytes == 1024**3
        video = c.generate("an honest clip", num_frames=1)
    assert video.data.startswith(MP4_HEAD)
    with pytest.raises(ValueError, match="max_video_bytes"):
        Client(api_key=KEY, base_url=server.url, max_video_bytes=0)


# -- time --------------------------------------------------------------------------------
def test_429_forever_is_bounded_by_the_timeout(api):
    server = api(submit="429")
    with client(server) as c, pytest.raises(RateLimitError):
        c.generate("never a slot", num_frames=1, timeout=2.5)
    # Retry-After is 1 s: within 2.5 s, at most three tries.
    assert 1 <= server.posts <= 3
    assert list(Journal()) == []  # each refused try left no row


def test_waiting_for_a_local_slot_is_bounded_by_the_timeout(api):
    server = api()
    with client(server) as c:
        held = [c.limiter.try_acquire() for _ in range(c.limiter.size)]
        try:
            with pytest.raises(SlotTimeoutError, match="nothing was submitted"):
                c.generate("a sixth job", num_frames=1, timeout=0.3)
        finally:
            for slot in held:
                assert slot is not None
                slot.release()
    assert server.posts == 0


def test_processing_forever_is_bounded_by_the_timeout(api):
    server = api(status="processing")
    with client(server) as c, pytest.raises(JobTimeoutError) as info:
        c.generate("never done", num_frames=1, timeout=1.0)
    assert info.value.job.id == JOB_ID
    assert server.posts == 1


# -- targets -----------------------------------------------------------------------------
def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _device(path: Path) -> Path:
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
    return path


@pytest.mark.parametrize("make", [_fifo, _device], ids=["fifo", "device"])
def test_a_special_file_as_target_is_refused_before_the_job_is_billed(api, tmp_path, make):
    server = api()
    target = make(tmp_path / "special.mp4")
    kind = os.stat(target).st_mode
    link = tmp_path / "link.mp4"
    link.symlink_to(target)
    for given in (target, link):
        with client(server) as c, pytest.raises(OutputPathError) as info:
            c.generate("not over a device", num_frames=1, path=given)
        assert str(target) in str(info.value)
    assert os.stat(target).st_mode == kind  # still what it was, never replaced
    assert link.is_symlink()
    assert server.posts == 0
    assert list(Journal()) == []


def test_a_target_whose_folder_cannot_exist_is_refused_before_the_job_is_billed(api, tmp_path):
    server = api()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with client(server) as c, pytest.raises(OutputPathError) as info:
        c.generate("nowhere to go", num_frames=1, path=blocker / "sub" / "clip.mp4")
    assert str(blocker) in str(info.value)
    with client(server, autosave=blocker / "videos") as c, pytest.raises(OutputPathError):
        c.generate("no auto-save folder", num_frames=1)
    assert server.posts == 0


def test_a_link_to_a_regular_file_is_written_through(api, tmp_path):
    server = api()
    real = tmp_path / "real.mp4"
    real.write_bytes(b"old")
    link = tmp_path / "link.mp4"
    link.symlink_to(real)
    with client(server) as c:
        video = c.generate("through the link", num_frames=1, path=link)
    assert link.is_symlink() and real.read_bytes().startswith(MP4_HEAD)
    assert video.path == real
    assert server.posts == 1


def test_a_target_that_turns_special_meanwhile_is_never_replaced(api, tmp_path):
    server = api()
    target = tmp_path / "clip.mp4"

    def on_update(job) -> None:  # after the submission, before the download
        if not target.exists():
            _fifo(target)

    with client(server) as c, pytest.raises(VideoNotSavedError) as info:
        c.generate("raced", num_frames=1, path=target, on_update=on_update)
    message = str(info.value)
    assert JOB_ID in message and f"ecovideo download {JOB_ID}" in message
    assert info.value.job_id == JOB_ID
    assert stat.S_ISFIFO(os.stat(target).st_mode)
    assert server.posts == 1
    assert Journal().get(f"{server.url}", JOB_ID) is not None


# -- disks ---------------------------------------------------------------------------------
_FULL_DISK = """\
import resource, signal, sys
from eco_widget import Client, VideoNotSavedError
from tests.conftest import FAST_POLL
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
with Client(api_key="eco_hostile_key", base_url=sys.argv[1], poll_policy=FAST_POLL) as client:
    try:
        client.generate("no room", num_frames=1, path=sys.argv[2])
    except VideoNotSavedError as exc:
        print(exc.job_id)
        print(exc)
"""


def test_a_disk_that_fills_up_after_the_job_exists_names_the_job(api, tmp_path, home):
    server = api(video="endless")
    target = tmp_path / "out" / "clip.mp4"
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, server.url, str(target), str(512 * 1024)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={**os.environ, "ECOHASH_HOME": str(home)},
    )
    lines = done.stdout.splitlines()
    assert lines and lines[0] == JOB_ID, done.stdout + done.stderr
    message = "\n".join(lines[1:])
    assert f"ecovideo download {JOB_ID}" in message and str(target) in message
    assert leftovers(tmp_path / "out") == []
    assert server.posts == 1
    assert Journal().get(server.url, JOB_ID) is not None  # the journal keeps it


def test_the_row_before_the_post_and_the_target_are_checked_in_order(api, tmp_path):
    """A bad target is found before the journal is touched; nothing at all is written."""
    server = api()
    target = _fifo(tmp_path / "special.mp4")
    with client(server) as c, pytest.raises(OutputPathError):
        c.generate("checked first", num_frames=1, path=target)
    assert not (Path(os.environ["ECOHASH_HOME"]) / "journal.sqlite3").exists()
    assert server.posts == 0


def test_an_interrupted_batch_submits_nothing_more(api, tmp_path, home):
    server = api(status="processing")
    script = textwrap.dedent(
        """\
        import sys
        from eco_widget import Client
        from tests.conftest import FAST_POLL
        key, url = "eco_hostile_key", sys.argv[1]
        with Client(api_key=key, base_url=url, poll_policy=FAST_POLL) as client:
            print("started", flush=True)
            client.generate_many([f"item {i}" for i in range(40)], progress=False, timeout=600)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, server.url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ECOHASH_HOME": str(home)},
    )
    from tests.waiting import deadline_wait

    deadline_wait(lambda: server.posts >= 5, 30, "five jobs to be submitted")
    process.send_signal(2)  # Ctrl-C
    process.communicate(timeout=60)
    assert server.posts == 5  # the five running ones; none of the 35 waiting
    assert len(list(Journal())) == 5
