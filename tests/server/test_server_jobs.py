"""The job lifecycle: queued → processing → completed (or failed), and the 429."""

from __future__ import annotations

import io
import threading

import av
import httpx

from eco_widget._params import VideoParams
from eco_widget.server import SandboxRenderer

STATUS_ORDER = ["queued", "processing", "completed"]


def test_a_job_goes_queued_processing_completed(start_api, fake_renderer):
    gate = threading.Event()
    api = start_api(profile="fast", time_scale=0.5, renderer=fake_renderer(gate=gate))
    submitted = api.submit(num_frames=33, fps=16, seed=42).json()
    assert submitted["status"] == "queued"
    assert "progress" not in submitted
    assert "video_url" not in submitted

    first = api.get(submitted["id"]).json()
    assert first["status"] == "queued"  # the fast profile queues for 0.15 s at least here
    # The render is held back: the job cannot complete before the test has seen it
    # processing.
    processing, seen = api.wait(submitted["id"], lambda job: job["status"] == "processing")
    assert 0.0 <= processing["progress"] < 1.0
    _, more = api.wait(submitted["id"], lambda job: job["progress"] >= 0.1)
    seen += more
    # While the render is held at 0.5, the time-based progress never passes it.
    assert all(job["progress"] <= 0.5 for job in seen if job["status"] == "processing")
    assert more[-1]["status"] == "processing"
    gate.set()
    done, more = api.wait(submitted["id"], lambda job: job["status"] == "completed")
    seen = [first, *seen, *more]

    statuses = [job["status"] for job in seen]
    assert statuses == sorted(statuses, key=STATUS_ORDER.index)
    progress = [job["progress"] for job in seen if job["status"] == "processing"]
    assert progress == sorted(progress)
    assert all(0.0 <= value < 1.0 for value in progress)
    assert all("progress" not in job for job in seen if job["status"] != "processing")

    assert done["duration_seconds"] == 33 / 16 == 2.0625
    assert isinstance(done["completed_at"], int)
    assert done["completed_at"] >= done["created"]
    assert done["expires_at"] >= done["completed_at"] + 86400
    assert done["video_url"].startswith(api.url + f"/v1/videos/{done['id']}.mp4?")
    assert done["seed"] == 42
    assert "error" not in done
    video = httpx.get(done["video_url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content == fake_renderer.video_for(
        VideoParams.create(submitted["prompt"], seed=42)
    )


def test_duration_is_frames_over_fps(shared_api):
    job = shared_api.submit(num_frames=81, fps=60).json()
    done = shared_api.completed(job["id"])
    assert done["duration_seconds"] == 81 / 60


def test_a_drawn_seed_is_stored_and_used(shared_api):
    job = shared_api.submit().json()
    done = shared_api.completed(job["id"])
    assert done["seed"] == job["seed"]
    renderer = shared_api.server.config.renderer
    assert any(call.seed == job["seed"] for call in renderer.calls)


def test_the_sixth_active_job_gets_a_429_and_other_keys_are_unaffected(start_api, fake_renderer):
    gate = threading.Event()
    api = start_api(renderer=fake_renderer(gate=gate))
    jobs = [api.submit(prompt=f"job {n}") for n in range(5)]
    assert [response.status_code for response in jobs] == [200] * 5

    refused = api.submit(prompt="one too many")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert "5 jobs queued or processing" in error["message"]
    assert "limit is 5" in error["message"]
    retry_after = refused.headers["retry-after"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    assert api.stats()["jobs"]["failed"] == 0
    assert sum(api.stats()["jobs"].values()) == 5  # the refused job was not created

    assert api.submit(key=api.other_key).status_code == 200

    gate.set()
    for response in jobs:
        assert api.completed(response.json()["id"])["status"] == "completed"
    assert api.submit(prompt="room again").status_code == 200


def test_retry_after_estimates_the_first_completion(start_api):
    api = start_api(profile="realistic", time_scale=0.1)
    for n in range(5):
        assert api.submit(prompt=f"job {n}").status_code == 200
    refused = api.submit()
    assert refused.status_code == 429
    # Realistic at 0.1×: 3–6 s queued + 6–12 s processing.
    assert 8 <= int(refused.headers["retry-after"]) <= 18


def test_a_render_failure_fails_the_job_and_the_server_goes_on(start_api, fake_renderer):
    api = start_api(renderer=fake_renderer(fail="explode"))
    failed = api.completed(api.submit(prompt="please explode").json()["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "generation_error"
    assert "the renderer broke on 'please explode'" in failed["error"]["message"]
    assert "video_url" not in failed
    assert "progress" not in failed

    ok = api.completed(api.submit(prompt="a calm sea").json()["id"])
    assert ok["status"] == "completed"
    assert api.stats()["jobs"] == {"queued": 0, "processing": 0, "completed": 1, "failed": 1}


class _NotBytes:
    def render(self, params, progress):
        return "not an mp4"


def test_a_renderer_returning_no_bytes_fails_the_job(start_api):
    api = start_api(renderer=_NotBytes())
    failed = api.completed(api.submit().json()["id"])
    assert failed["status"] == "failed"
    assert "not MP4 bytes" in failed["error"]["message"]


def test_the_sandbox_renderer_makes_a_real_mp4(start_api):
    api = start_api(renderer=SandboxRenderer(width=160, height=96))
    job = api.submit(prompt="a paper airplane in a library", num_frames=9, fps=8, seed=5).json()
    twin = api.submit(prompt="a paper airplane in a library", num_frames=9, fps=8, seed=5).json()
    done = api.completed(job["id"])
    assert done["status"] == "completed", done
    data = httpx.get(done["video_url"]).content
    assert data[4:8] == b"ftyp"
    assert len(_frames(data)) == 9
    # Same seed and parameters, same pictures.
    again = httpx.get(api.completed(twin["id"])["video_url"]).content
    assert _frames(again) == _frames(data)


def _frames(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data)) as container:
        return [frame.to_ndarray().tobytes() for frame in container.decode(video=0)]


def test_a_video_that_cannot_be_stored_fails_the_job(api, monkeypatch):
    store = api.server.app.state.store
    write_video = store.write_video

    def full_disk(job_id: str, data: bytes) -> None:
        monkeypatch.setattr(store, "write_video", write_video)  # only once
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_video", full_disk)
    failed = api.completed(api.submit().json()["id"])
    assert failed["status"] == "failed"
    assert "could not store the video" in failed["error"]["message"]
    assert "No space left on device" in failed["error"]["message"]
    assert api.completed(api.submit().json()["id"])["status"] == "completed"
