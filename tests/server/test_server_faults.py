"""Fault injection: 5xx, dropped connections, slow answers, 429 bursts, dropped submits."""

from __future__ import annotations

import time

import httpx
import pytest

from eco_widget.server import FaultConfig


def _completed_video_url(start_api, faulty) -> tuple[str, str]:
    """Submit on ``faulty`` (submits are not faulted) and wait through a clean server on
    the same data directory; return the job id and the video URL on ``faulty``."""
    job = faulty.submit().json()
    clean = start_api()
    done = clean.completed(job["id"])
    return job["id"], done["video_url"].replace(clean.url, faulty.url)


def test_error_rate_answers_gets_with_json_5xx(start_api):
    api = start_api(faults=FaultConfig(error_rate=1.0))
    job_id, video_url = _completed_video_url(start_api, api)
    statuses = set()
    for _ in range(12):
        response = api.get(job_id)
        statuses.add(response.status_code)
        error = response.json()["error"]
        assert error["type"] == "server_error"
        assert "fault injection" in error["message"]
        assert response.headers["x-request-id"].startswith("req_")
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
    assert statuses == {500, 503}
    video = httpx.get(video_url)
    assert video.status_code in (500, 503)
    assert video.json()["error"]["type"] == "server_error"
    stats = api.stats()
    assert stats["faults"]["server_error"] == 13
    assert stats["requests"]["job_gets"] == 12
    assert stats["requests"]["video_gets"] == 1
    assert stats["requests"]["posts"] == 1


def test_faults_never_hit_openapi_or_stats(start_api):
    api = start_api(faults=FaultConfig(error_rate=1.0, drop_rate=1.0, slow_rate=1.0))
    for _ in range(3):
        assert api.client.get("/openapi.json").status_code == 200
        assert api.client.get("/_sandbox/stats", headers=api.headers()).status_code == 200
    assert sum(api.server.stats.totals()["faults"].values()) == 0


def test_drop_rate_breaks_the_connection_mid_response(start_api):
    api = start_api(faults=FaultConfig(drop_rate=1.0))
    job_id, video_url = _completed_video_url(start_api, api)
    with pytest.raises(httpx.TransportError) as dropped:
        api.get(job_id)
    assert isinstance(dropped.value, (httpx.RemoteProtocolError, httpx.ReadError))
    with pytest.raises(httpx.TransportError):
        httpx.get(video_url)
    assert api.stats()["faults"]["drop"] == 2
    # The server itself is fine.
    assert api.client.get("/openapi.json").status_code == 200


def test_slow_rate_delays_gets(start_api):
    api = start_api(faults=FaultConfig(slow_rate=1.0, slow_seconds=0.3))
    job = api.submit().json()
    began = time.monotonic()
    assert api.get(job["id"]).status_code == 200
    assert time.monotonic() - began >= 0.3
    assert api.stats()["faults"]["slow"] == 1


def test_burst_429_after_every_n_api_requests(start_api):
    api = start_api(faults=FaultConfig(burst_429_every=3, burst_429_length=2))
    job = api.submit().json()  # 1
    assert api.get(job["id"]).status_code == 200  # 2
    assert api.get(job["id"]).status_code == 200  # 3: arms the burst
    for _ in range(2):
        response = api.get(job["id"])
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["type"] == "rate_limit_error"
    codes = [api.get(job["id"]).status_code for _ in range(6)]
    assert codes == [200, 200, 200, 429, 429, 200]
    # Another key keeps its own count.
    assert api.get("vid_x", key=api.other_key).status_code == 404
    assert api.stats()["faults"]["burst_429"] == 4


def test_a_dropped_submit_still_created_the_job(start_api):
    api = start_api(faults=FaultConfig(post_drop_rate=1.0))
    with pytest.raises(httpx.TransportError):
        api.submit(prompt="submitted once")
    stats = api.stats()
    assert stats["requests"]["posts"] == 1
    assert stats["faults"]["post_drop"] == 1
    api.wait_until(lambda: api.stats()["jobs"]["completed"] == 1)
    assert sum(api.stats()["jobs"].values()) == 1


def test_faults_are_reproducible_given_the_seed(start_api, tmp_path):
    def statuses(seed: int, name: str) -> list[int]:
        api = start_api(data_dir=tmp_path / name, seed=seed, faults=FaultConfig(error_rate=0.5))
        return [api.get("vid_none").status_code for _ in range(16)]

    first = statuses(11, "a")
    assert statuses(11, "b") == first
    assert set(first) >= {404, 500} or set(first) >= {404, 503}
    assert statuses(12, "c") != first
