"""A process killed while it waits for a video loses nothing: the next one resumes the
job from the journal and saves the video, with no second submission; also when the
server was killed too and started again on the same data."""

from __future__ import annotations

from pathlib import Path

from eco_widget import Client, Journal
from tests.conftest import FAST_POLL, KEY
from tests.reliability.support import ServerProcess, frame_count, submit_and_kill

FRAMES = 9


def _check_killed_mid_wait(home: Path, submitted: dict) -> None:
    """The journal holds the job as the child last saw it: submitted, not finished,
    and no video was saved."""
    (entry,) = Journal(home / "journal.sqlite3").entries()
    assert entry.job_id == submitted["id"]
    assert entry.seed == submitted["seed"]
    assert entry.status == "queued"
    assert entry.saved_path is None
    assert not any((home / "videos").glob("*"))


def _check_recovered(home: Path, client: Client, submitted: dict):
    result = client.resume(timeout=60)
    assert result.errors == {} and result.running == [], result.summary()
    (video,) = result.videos
    assert video.job.id == submitted["id"]
    assert video.seed == submitted["seed"]
    assert video.path is not None and video.path.parent == home / "videos"
    assert sorted((home / "videos").iterdir()) == [video.path]  # nothing partial beside it
    assert frame_count(video.path) == FRAMES
    assert "1 video recovered" in result.summary()

    entry = Journal(home / "journal.sqlite3").get(client.base_url, submitted["id"])
    assert entry is not None
    assert entry.status == "completed"
    assert entry.saved_path == str(video.path)
    assert entry.saved_size == video.path.stat().st_size
    return video


def test_a_process_killed_mid_wait_loses_no_video(make_server, tmp_path, monkeypatch):
    server = make_server(profile="fast")  # a job takes 1.3–4 s
    home = tmp_path / "home"
    submitted = submit_and_kill(home, server.url, KEY, FRAMES)
    _check_killed_mid_wait(home, submitted)

    monkeypatch.setenv("ECOHASH_HOME", str(home))
    with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
        video = _check_recovered(home, client, submitted)
        assert video.data == server.app.state.store.video_path(submitted["id"]).read_bytes()
        stats = server.stats.for_key(KEY)
        assert stats["requests"]["posts"] == 1
        assert stats["jobs"]["completed"] == 1

        # Settled: resuming again neither asks the server nor downloads anything.
        again = client.resume(timeout=60)
        assert not again and again.videos == []
        assert server.stats.for_key(KEY)["requests"] == stats["requests"]


def test_client_and_server_killed_mid_job(tmp_path, unused_port, monkeypatch):
    home = tmp_path / "home"
    server = ServerProcess(unused_port, tmp_path / "server", (KEY,), "--profile", "fast")
    server.start()
    try:
        seen: dict = {}
        submitted = submit_and_kill(
            home, server.url, KEY, FRAMES, on_submitted=lambda: seen.update(server.stats(KEY))
        )
        server.kill()
        # Both died while the job was still queued or processing on the server.
        assert seen["requests"]["posts"] == 1
        assert seen["jobs"]["completed"] == 0 and seen["jobs"]["failed"] == 0
        _check_killed_mid_wait(home, submitted)

        server.start()  # same port, same data directory: it resumes the orphaned job
        monkeypatch.setenv("ECOHASH_HOME", str(home))
        with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
            video = _check_recovered(home, client, submitted)
        stored = tmp_path / "server" / "videos" / f"{submitted['id']}.mp4"
        assert video.data == stored.read_bytes()
        after = server.stats(KEY)
        assert after["requests"]["posts"] == 0  # one POST in all, before the crash
        assert after["requests"]["video_gets"] >= 1
        assert after["jobs"]["completed"] == 1
    finally:
        server.stop()
