"""A video left unsaved past its URL's lifetime is reported once, clearly, and never
tried again."""

from __future__ import annotations

from pathlib import Path

import httpx

from eco_widget import Client, Journal, VideoExpiredError
from tests.conftest import FAST_POLL, KEY
from tests.reliability.support import submit_and_kill, wait_for_wall_clock, wait_until

URL_TTL = 1.0


def saved_files(home: Path) -> list[Path]:
    folder = home / "videos"
    return sorted(folder.iterdir()) if folder.exists() else []


def _check_reported(client: Client, job_id: str) -> VideoExpiredError:
    """One resume reports the job as expired; returns the error."""
    result = client.resume(timeout=60)
    assert result.videos == [] and result.running == []
    assert set(result.errors) == {job_id}
    error = result.errors[job_id]
    assert isinstance(error, VideoExpiredError)
    message = str(error)
    assert job_id in message and "expired" in message
    assert "cannot be fetched" in message
    assert f"{job_id}: " in result.summary() and "not recoverable" in result.summary()

    entry = Journal().get(client.base_url, job_id)
    assert entry is not None
    assert entry.status == "expired"
    assert entry.saved_path is None
    assert entry.error_message == message
    return error


def _check_settled(client: Client, server, job_id: str) -> None:
    """A second resume leaves the expired job alone: no request at all."""
    before = server.stats.for_key(KEY)["requests"]
    again = client.resume(timeout=60)
    assert not again and again.errors == {}
    assert server.stats.for_key(KEY)["requests"] == before
    assert Journal().get(client.base_url, job_id).status == "expired"


def test_a_completed_video_not_saved_in_time_is_reported_once(make_server, tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))
    server = make_server(url_ttl=URL_TTL)
    with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL, autosave=False) as client:
        job = client.submit("a sandcastle before the tide", num_frames=5, num_inference_steps=20)
        job = client.wait(job, timeout=60)
    assert job.is_completed and job.expires_at is not None

    entry = Journal().get(server.url, job.id)
    assert entry is not None
    assert entry.status == "completed" and entry.saved_path is None
    assert entry.expires_at == job.expires_at

    wait_for_wall_clock(entry.expires_at)
    assert httpx.get(job.video_url).status_code == 410  # the server agrees: gone

    with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
        videos_before = server.stats.for_key(KEY)["requests"]["video_gets"]
        _check_reported(client, job.id)
        # The journal knew the URL's lifetime: no doomed download was tried.
        assert server.stats.for_key(KEY)["requests"]["video_gets"] == videos_before
        _check_settled(client, server, job.id)
    assert saved_files(tmp_path / "home") == []


def test_expiry_learned_from_the_server_after_a_crash(make_server, tmp_path, monkeypatch):
    home = tmp_path / "home"
    server = make_server(profile="fast", url_ttl=URL_TTL)
    submitted = submit_and_kill(home, server.url, KEY, 5)
    monkeypatch.setenv("ECOHASH_HOME", str(home))
    entry = Journal().get(server.url, submitted["id"])
    assert entry is not None and entry.expires_at is None  # killed before completion

    def completed() -> dict | None:
        response = httpx.get(
            f"{server.url}/v1/video/generations/{submitted['id']}",
            headers={"Authorization": f"Bearer {KEY}"},
        )
        job = response.json()
        return job if job["status"] == "completed" else None

    job = wait_until(completed, "the job to complete on the server")
    wait_for_wall_clock(job["expires_at"])

    with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
        videos_before = server.stats.for_key(KEY)["requests"]["video_gets"]
        _check_reported(client, submitted["id"])
        # At most one look at the URL; a 410 is not retried.
        assert server.stats.for_key(KEY)["requests"]["video_gets"] - videos_before <= 1
        _check_settled(client, server, submitted["id"])
    assert server.stats.for_key(KEY)["requests"]["posts"] == 1
    assert saved_files(home) == []
