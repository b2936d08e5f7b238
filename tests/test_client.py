"""Client and AsyncClient against the real local server on a loopback port."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import av
import httpx
import pytest

from eco_widget import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    Client,
    InvalidParameterError,
    InvalidRequestError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    RateLimitError,
    Video,
    VideoExpiredError,
)
from eco_widget.server import FaultConfig
from tests.conftest import FAST_POLL, KEY, OTHER_KEY
from tests.waiting import deadline_wait


def decode(data: bytes) -> tuple[int, float, str, str]:
    """(frames, fps, codec, pixel format) of an MP4, by decoding every frame."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return (
            frames,
            float(stream.average_rate),
            stream.codec_context.name,
            stream.codec_context.pix_fmt,
        )


def client_for(server, key: str = KEY, **kwargs) -> Client:
    return Client(api_key=key, base_url=server.url, poll_policy=FAST_POLL, **kwargs)


def requests_seen(server, key: str = KEY) -> dict[str, int]:
    return server.stats.for_key(key)["requests"]


def url_refused(url: str) -> bool:
    """True once the server refuses the video URL as expired."""
    return httpx.get(url, timeout=10).status_code in (403, 410)


# -- the whole path, sync ----------------------------------------------------------------
def test_generate_returns_a_video_with_its_seed_and_bytes(make_server):
    server = make_server()
    updates = []
    with client_for(server) as client:
        video = client.generate("a red balloon", num_frames=9, fps=8, on_update=updates.append)
    assert isinstance(video, Video)
    assert video.seed is not None and video.job.params.seed == video.seed
    assert video.prompt == "a red balloon"
    assert video.duration_seconds == pytest.approx(9 / 8)
    assert decode(video.data)[:2] == (9, 8.0)
    assert updates[0].status == "queued" and updates[-1].status == "completed"
    assert requests_seen(server)["posts"] == 1


def test_generate_to_a_path_streams_to_disk(make_server, tmp_path):
    server = make_server()
    target = tmp_path / "out" / "balloon.mp4"
    with client_for(server) as client:
        video = client.generate("a red balloon", num_frames=5, seed=11, path=target)
    assert video.path == target
    assert decode(target.read_bytes())[0] == 5
    assert video.data == target.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["balloon.mp4"]


def test_generate_into_a_directory_names_the_file_from_prompt_and_seed(make_server, tmp_path):
    server = make_server()
    with client_for(server) as client:
        video = client.generate("A red balloon!", num_frames=3, seed=42, path=tmp_path)
    assert video.path == tmp_path / "a-red-balloon-s42.mp4"


def test_submit_get_wait_download_step_by_step(make_server, tmp_path):
    server = make_server(profile="fast", time_scale=0.2)
    with client_for(server) as client:
        job = client.submit("a paper airplane", num_frames=7, fps=7, seed=3)
        assert job.status == "queued" and job.id.startswith("vid_") and job.seed == 3
        assert client.get(job.id).id == job.id
        seen = []
        done = client.wait(job, on_update=seen.append)
        assert done.is_completed
        assert done.duration_seconds == pytest.approx(1.0)
        assert done.video_url and KEY not in done.video_url
        assert "processing" in {s.status for s in seen}
        data = client.download(done)
        path = client.download(done.id, tmp_path / "x.mp4")
    assert isinstance(data, bytes) and path.read_bytes() == data
    assert decode(data)[0] == 7


def test_same_seed_same_video(make_server):
    server = make_server()
    with client_for(server) as client:
        first = client.generate("a lighthouse", num_frames=4, seed=99)
        second = client.generate("a lighthouse", num_frames=4, seed=99)
        other = client.generate("a lighthouse", num_frames=4, seed=100)
    assert first.data == second.data
    assert first.data != other.data


# -- the whole path, async ----------------------------------------------------------------
@pytest.mark.anyio
async def test_async_client_does_the_same(make_server, tmp_path):
    server = make_server()
    updates = []

    async def on_update(job):
        updates.append(job.status)

    async with AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
        video = await client.generate("a koi pond", num_frames=6, on_update=on_update)
        job = await client.submit("a koi pond", num_frames=2, seed=video.seed)
        done = await client.wait(job.id)
        path = await client.download(done, tmp_path / "koi.mp4")
        again = await client.get(done.id)
    assert decode(video.data)[0] == 6
    assert updates[0] == "queued" and updates[-1] == "completed"
    assert decode(path.read_bytes())[0] == 2
    assert again.is_completed


@pytest.mark.anyio
async def test_async_clients_run_jobs_concurrently(make_server):
    server = make_server(profile="fast", time_scale=0.3)
    async with AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
        videos = await asyncio.gather(
            *(client.generate(f"scene {i}", num_frames=3) for i in range(5))
        )
    assert len({v.job.id for v in videos}) == 5
    assert requests_seen(server)["posts"] == 5


# -- errors --------------------------------------------------------------------------------
def test_validation_happens_before_any_request(make_server):
    server = make_server()
    with client_for(server) as client:
        for kwargs in (
            {"num_frames": 0},
            {"fps": 61},
            {"num_inference_steps": 19},
            {"guidance_scale": 20.5},
            {"seed": -1},
            {"num_frames": 2.0},
        ):
            with pytest.raises(InvalidParameterError) as info:
                client.submit("fine prompt", **kwargs)
            assert info.value.param == next(iter(kwargs))
        with pytest.raises(InvalidParameterError, match="empty"):
            client.generate("   ")
    assert requests_seen(server) == {"posts": 0, "job_gets": 0, "video_gets": 0}
    assert server.stats.totals()["requests"]["posts"] == 0


def test_server_side_validation_maps_to_invalid_request(make_server):
    server = make_server(max_body_bytes=1024)
    with client_for(server) as client, pytest.raises(InvalidRequestError) as info:
        client.submit("x" * 1500)  # valid for the contract, too big for this server
    assert info.value.status_code == 413


def test_wrong_key_is_an_authentication_error_without_the_key(make_server):
    server = make_server()
    client = Client(api_key="eco_not_a_key_123", base_url=server.url)
    with client, pytest.raises(AuthenticationError) as info:
        client.submit("x")
    assert info.value.status_code == 401
    assert "eco_not_a_key_123" not in str(info.value)
    assert "eco_not_a_key_123" not in repr(info.value)


def test_missing_key_fails_before_any_request_and_says_what_to_do(monkeypatch):
    monkeypatch.delenv("ECOHASH_API_KEY", raising=False)
    with pytest.raises(AuthenticationError) as info:
        Client(base_url="http://127.0.0.1:9")
    message = str(info.value)
    assert "ECOHASH_API_KEY" in message and "sandbox" in message


def test_key_and_base_url_come_from_the_environment(make_server, monkeypatch):
    server = make_server()
    monkeypatch.setenv("ECOHASH_API_KEY", KEY)
    monkeypatch.setenv("ECOHASH_BASE_URL", server.url)
    with Client(poll_policy=FAST_POLL) as client:
        assert client.base_url == server.url
        client.submit("from the environment", num_frames=1)
    assert requests_seen(server)["posts"] == 1


def test_other_keys_jobs_are_not_found(make_server):
    server = make_server()
    with client_for(server) as mine, client_for(server, OTHER_KEY) as theirs:
        job = mine.submit("private", num_frames=1)
        with pytest.raises(NotFoundError):
            theirs.get(job.id)
        with pytest.raises(NotFoundError):
            mine.get("vid_doesnotexist")


def test_the_sixth_active_job_is_rate_limited(make_server):
    server = make_server(profile="realistic", time_scale=1.0)
    with client_for(server) as client:
        for i in range(5):
            client.submit(f"job {i}", num_frames=1)
        waits = []
        with pytest.raises(RateLimitError) as info:
            client.submit("one too many", num_frames=1, timeout=0.5, on_wait=waits.append)
        assert info.value.retry_after is not None and info.value.retry_after >= 1
        assert waits == []  # the pause the server asks for is longer than the timeout
        with pytest.raises(RateLimitError):
            client.submit("no waiting at all", num_frames=1, timeout=None)
    with client_for(server, OTHER_KEY) as other:
        other.submit("another account", num_frames=1)
    assert requests_seen(server)["posts"] == 7


def test_a_failed_job_raises_job_failed(make_server):
    class Broken:
        def render(self, params, progress):
            raise RuntimeError("the GPU caught fire")

    server = make_server(renderer=Broken())
    with client_for(server) as client, pytest.raises(JobFailedError) as info:
        client.generate("doomed", num_frames=1)
    assert info.value.job.is_failed
    assert info.value.job.error.type == "generation_error"


def test_wait_timeout_keeps_the_job_resumable(make_server):
    server = make_server(profile="realistic", time_scale=1.0)
    with client_for(server) as client:
        job = client.submit("slow", num_frames=1)
        with pytest.raises(JobTimeoutError) as info:
            client.wait(job, timeout=0.3)
        assert info.value.job.id == job.id
        assert not info.value.job.is_terminal
        assert client.get(job.id).status in ("queued", "processing")


def test_unreachable_server_is_a_connection_error(unused_port):
    client = Client(api_key=KEY, base_url=f"http://127.0.0.1:{unused_port}", max_retries=1)
    with client, pytest.raises(APIConnectionError) as info:
        client.get("vid_x")
    assert info.value.may_have_reached_server is False


def test_expired_video_url_is_reported_not_looped_on(make_server):
    server = make_server(url_ttl=0.5)
    with client_for(server, autosave=False) as client:
        job = client.wait(client.submit("ephemeral", num_frames=1))
        # wait, on the server's own terms, until the URL is refused
        deadline_wait(lambda: url_refused(job.video_url), 10, "the video URL to expire")
        before = requests_seen(server)["video_gets"]
        with pytest.raises(VideoExpiredError, match="expired"):
            client.download(job)  # the journal knows the expiry: not even one request
        with pytest.raises(VideoExpiredError, match="expired"):
            client.download(job.id)
    assert requests_seen(server)["video_gets"] - before == 0
    assert client.journal.get(server.url, job.id).status == "expired"


def test_an_expired_url_met_on_download_is_reported_once(make_server):
    server = make_server(url_ttl=0.5)
    with client_for(server, journal=False) as client:
        job = client.wait(client.submit("ephemeral", num_frames=1))
        deadline_wait(lambda: url_refused(job.video_url), 10, "the video URL to expire")
        before = requests_seen(server)["video_gets"]
        with pytest.raises(VideoExpiredError, match="expired"):
            client.download(job)
    assert requests_seen(server)["video_gets"] - before == 1


# -- faults ----------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_twenty_jobs_survive_thirty_percent_of_gets_failing(make_server):
    faults = FaultConfig(error_rate=0.15, drop_rate=0.15)
    server = make_server(profile="fast", time_scale=0.1, faults=faults, seed=7)
    slots = asyncio.Semaphore(5)

    async def one(client: AsyncClient, i: int) -> Video:
        async with slots:
            return await client.generate(f"fault tolerant scene {i}", num_frames=4, fps=8)

    async with AsyncClient(
        api_key=KEY, base_url=server.url, poll_policy=FAST_POLL, max_retries=8
    ) as client:
        videos = await asyncio.gather(*(one(client, i) for i in range(20)))
    stats = server.stats.for_key(KEY)
    assert stats["requests"]["posts"] == 20  # exactly one POST per job
    assert stats["faults"]["server_error"] > 0 and stats["faults"]["drop"] > 0
    for video in videos:
        assert decode(video.data) == (4, 8.0, "h264", "yuv420p")


def test_a_dropped_submit_is_not_sent_again(make_server):
    server = make_server(faults=FaultConfig(post_drop_rate=1.0))
    with client_for(server) as client, pytest.raises(APIConnectionError) as info:
        client.submit("billed once", num_frames=1)
    assert info.value.may_have_reached_server is True
    stats = server.stats.for_key(KEY)
    assert stats["requests"]["posts"] == 1
    assert sum(stats["jobs"].values()) == 1  # the job exists, once


def test_a_download_cut_short_goes_on_with_range(make_server, tmp_path):
    server = make_server()
    with client_for(server) as client:
        job = client.wait(client.submit("ranged", num_frames=20, seed=5))
        whole = client.download(job)
    server.stop()
    flaky = make_server(faults=FaultConfig(drop_rate=0.5), seed=3)
    with client_for(flaky, max_retries=10) as client:
        again = client.download(client.get(job.id), tmp_path / "out" / "ranged.mp4")
    assert flaky.stats.for_key(KEY)["faults"]["drop"] > 0
    assert again.read_bytes() == whole
    assert [p.name for p in again.parent.iterdir()] == ["ranged.mp4"]


# -- configuration and hygiene ---------------------------------------------------------------
def test_injected_transport_and_http_client(make_server):
    server = make_server()
    transport = httpx.HTTPTransport(retries=0)
    with Client(api_key=KEY, base_url=server.url, transport=transport) as client:
        assert client.submit("transport", num_frames=1).status == "queued"
    http = httpx.Client()
    with Client(api_key=KEY, base_url=server.url, http_client=http) as client:
        client.submit("client", num_frames=1)
    assert not http.is_closed  # not ours to close
    http.close()


def test_the_key_never_shows(make_server, caplog):
    server = make_server()
    caplog.set_level(logging.DEBUG)
    with client_for(server) as client:
        video = client.generate("secretive", num_frames=1)
        shown = " ".join(
            [
                repr(client),
                repr(video),
                video._repr_html_()[:200],
                str(client._settings),
                repr(client._rt.endpoint),
            ]
        )
    assert KEY not in shown
    assert KEY not in caplog.text
    assert "GET /v1/video/generations/" in caplog.text  # requests are logged, keys are not


def test_sandbox_is_shared_by_every_client_of_the_process():
    with Client(base_url="sandbox") as first, Client(base_url="sandbox") as second:
        assert first.base_url == second.base_url
        assert first.base_url.startswith("http://127.0.0.1:")
        assert first.is_sandbox
        video = first.generate("a sandbox balloon", num_frames=3)
        assert second.get(video.job.id).is_completed
    assert decode(video.data)[0] == 3


def test_repr_is_deterministic(make_server):
    server = make_server()
    with client_for(server, autosave=False) as client:
        video = client.generate("repr", num_frames=2, fps=4, seed=1)
    text = repr(video)
    assert text == (
        f"Video(job_id={video.job.id!r}, seed=1, num_frames=2, fps=4, duration_seconds=0.5)"
    )
    assert repr(client) == f"Client(base_url={server.url!r})"


def test_video_html_embeds_the_mp4_for_static_viewers(make_server, tmp_path):
    server = make_server()
    with client_for(server) as client:
        video = client.generate("<b>not bold</b>", num_frames=1, path=tmp_path / "v.mp4")
    html = video._repr_html_()
    assert "<video controls" in html and "data:video/mp4;base64," in html
    assert "<b>not bold</b>" not in html and "&lt;b&gt;" in html
    saved = video.save(tmp_path / "copy.mp4")
    assert saved.read_bytes() == (tmp_path / "v.mp4").read_bytes()
    assert Path(video.path) == tmp_path / "v.mp4"


def test_save_writes_copies_and_the_video_keeps_its_own_file(make_server, tmp_path, monkeypatch):
    server = make_server()
    monkeypatch.chdir(tmp_path)
    with client_for(server) as client:
        video = client.generate("a kite over a beach", num_frames=1, seed=5)
        kept = video.path
        assert kept is not None and kept.parent.name == "videos"  # the auto-saved file
        copy = video.save("clips/")  # a trailing slash: a folder, made, named for the video
        assert copy == Path("clips", "a-kite-over-a-beach-s5.mp4")
        assert copy.read_bytes() == video.data
        assert video.path == kept  # the copy is the caller's; the video keeps its file
        assert client.result(video.job).path == kept  # the file the journal knows

    memory = type(video)(video.job, data=video.data)  # held in memory, no file yet
    first = memory.save(tmp_path / "first.mp4")
    assert memory.path == first  # its first file becomes its path
    assert memory.save(tmp_path / "second.mp4").is_file() and memory.path == first
