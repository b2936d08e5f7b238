"""VideoWidget's Python side against the real local server: the states a generation
goes through, the messages the front end sends, the Python API."""

from __future__ import annotations

import asyncio

import pytest

from eco_widget import (
    AsyncClient,
    Client,
    InvalidParameterError,
    JobFailedError,
    Video,
    VideoWidget,
)
from tests.conftest import FAST_POLL, KEY
from tests.widget_messages import SentMessages

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))


def widget(server, key: str = KEY, **kwargs) -> VideoWidget:
    client = AsyncClient(api_key=key, base_url=server.url, poll_policy=FAST_POLL)
    return VideoWidget(client=client, **kwargs)


class Recorder(SentMessages):
    """Every ``runs`` state the front end would receive, and every message sent."""

    def __init__(self, w: VideoWidget):
        super().__init__(w)
        self.states: list[list[dict]] = []
        w.observe(lambda change: self.states.append(change["new"]), names="runs")

    def phases(self, key: str = "r1") -> list[str]:
        seen = []
        for state in self.states:
            for run in state:
                if run["key"] == key and (not seen or seen[-1] != run["phase"]):
                    seen.append(run["phase"])
        return seen


def click(w: VideoWidget, **params) -> None:
    """What the front end sends when Generate is pressed."""
    values = {
        name: getattr(w, name)
        for name in ("prompt", "num_frames", "fps", "num_inference_steps", "guidance_scale", "seed")
    }
    values.update(params)
    w._on_message(w, {"type": "generate", "params": values}, [])


async def test_a_click_runs_a_job_to_a_saved_video(make_server, tmp_path):
    server = make_server(profile="fast", time_scale=0.2)
    w = widget(server, prompt="a red balloon", num_frames=9, fps=9)
    seen = Recorder(w)
    click(w)
    video = await w
    assert isinstance(video, Video)
    phases = seen.phases()
    assert phases[0] == "submitting"
    assert "queued" in phases and "processing" in phases
    assert phases[-2:] == ["downloading", "completed"]
    final = w.runs[0]
    assert final["job_id"] == video.job.id and final["seed"] == video.seed
    assert final["fraction"] == 1.0 and final["active"] is False
    assert final["duration_seconds"] == 1.0
    assert final["queue_seconds"] is not None and final["render_seconds"] is not None
    saved = final["video"]["saved_path"]
    assert saved.startswith(str(tmp_path / "home" / "videos"))
    assert video.path is not None and str(video.path) == saved
    assert final["video"]["filename"] == f"a-red-balloon-s{video.seed}.mp4"
    assert w.video is video and w.status == "completed"


async def test_progress_is_published_at_most_a_few_times_a_second(make_server):
    server = make_server(profile="fast", time_scale=0.5)
    w = widget(server, prompt="throttled", num_frames=3)
    seen = Recorder(w)
    w.generate()
    await w
    # publishes are coalesced: far fewer than the snapshots polled at 50 Hz
    gets = server.stats.for_key(KEY)["requests"]["job_gets"]
    assert len(seen.states) < gets
    assert seen.states[-1][0]["phase"] == "completed"


async def test_the_video_is_sent_as_one_binary_buffer(make_server):
    server = make_server()
    w = widget(server, prompt="bytes please", num_frames=5)
    seen = Recorder(w)
    video = await w.generate()
    w._on_message(w, {"type": "video", "key": "r1"}, [])
    content, buffers = await seen.wait_for(lambda m: m.get("key") == "r1")
    assert content == {
        "type": "video",
        "key": "r1",
        "filename": f"bytes-please-s{video.seed}.mp4",
        "mime": "video/mp4",
    }
    assert len(buffers) == 1 and bytes(buffers[0]) == video.path.read_bytes()
    assert "video" not in {k for run in w.runs for k, v in run.items() if isinstance(v, bytes)}
    w._on_message(w, {"type": "video", "key": "r9"}, [])
    missing, _ = await seen.wait_for(lambda m: m.get("key") == "r9")
    assert missing["type"] == "video_missing"


async def test_validation_errors_stay_in_the_form_and_send_nothing(make_server):
    server = make_server()
    w = widget(server, prompt="keep me", num_frames=12, seed=7)
    click(w, num_frames=0)
    assert w.form_error == {
        "param": "num_frames",
        "message": "num_frames must be an integer from 1 to 81; got 0.",
    }
    assert w.runs == [] and w.status == "idle"
    assert (w.prompt, w.num_frames, w.seed) == ("keep me", 12, 7)
    click(w, prompt="   ")
    assert w.form_error["param"] == "prompt"
    with pytest.raises(InvalidParameterError):
        w.generate(guidance_scale=99)
    assert server.stats.totals()["requests"]["posts"] == 0
    click(w)  # a good submission clears the error
    assert w.form_error is None
    await w


async def test_a_failed_job_shows_in_plain_words(make_server):
    class Broken:
        def render(self, params, progress):
            raise RuntimeError("out of GPU memory")

    server = make_server(renderer=Broken())
    w = widget(server, prompt="doomed", num_frames=1)
    w.generate()
    with pytest.raises(JobFailedError):
        await w
    run = w.runs[0]
    assert run["phase"] == "failed"
    assert run["error"]["kind"] == "failed"
    assert "out of GPU memory" in run["error"]["message"]
    assert w.prompt == "doomed"  # the form keeps its values
    assert w.video is None


async def test_a_wrong_key_is_an_authentication_error(make_server):
    server = make_server()
    w = widget(server, key="eco_wrong_key", prompt="who am I")
    w.generate()
    with pytest.raises(Exception, match="Invalid API key"):
        await w
    run = w.runs[0]
    assert (run["phase"], run["error"]["kind"]) == ("error", "authentication")
    assert "eco_wrong_key" not in str(w.runs) and "eco_wrong_key" not in repr(w)


async def test_a_sixth_job_waits_for_a_free_slot(make_server):
    server = make_server(profile="realistic", time_scale=0.01, max_active_per_key=5)
    w = widget(server, prompt="crowd", num_frames=1)
    seen = Recorder(w)
    for _ in range(6):
        w.generate()
    await asyncio.gather(*(run.task for run in w._runs))
    assert "waiting" in seen.phases("r6")
    waiting = next(
        run
        for state in seen.states
        for run in state
        if run["key"] == "r6" and run["phase"] == "waiting"
    )
    assert "free slot" in waiting["phase_label"]
    assert all(run["phase"] == "completed" for run in w.runs)
    assert [run["key"] for run in w.runs] == ["r6", "r5", "r4", "r3", "r2", "r1"]  # newest first
    assert server.stats.for_key(KEY)["requests"]["posts"] == 6  # never a 429


async def test_jobs_of_other_processes_make_it_wait_not_fail(make_server):
    server = make_server(profile="realistic", time_scale=0.01)
    with Client(api_key=KEY, base_url=server.url) as other:  # five jobs from elsewhere
        for i in range(5):
            other.submit(f"elsewhere {i}", num_frames=1)
    w = widget(server, prompt="patient", num_frames=1)
    seen = Recorder(w)
    w.generate()
    video = await w
    assert "waiting" in seen.phases() and video.seed is not None
    assert server.stats.for_key(KEY)["requests"]["posts"] >= 7  # refused once, then accepted


async def test_stop_waiting_keeps_the_job_id_and_says_so(make_server):
    server = make_server(profile="realistic", time_scale=1.0)
    w = widget(server, prompt="slow", num_frames=1)
    seen = Recorder(w)
    submitted = asyncio.Event()
    w.observe(lambda change: change["new"][0]["job_id"] and submitted.set(), names="runs")
    w.generate()
    await asyncio.wait_for(submitted.wait(), 30)
    job_id = w.runs[0]["job_id"]
    w._on_message(w, {"type": "stop", "key": "r1"}, [])
    with pytest.raises(asyncio.CancelledError):
        await w
    run = w.runs[0]
    assert run["phase"] == "stopped" and run["active"] is False
    assert job_id in run["note"] and "goes on" in run["note"]
    assert seen.phases()[-1] == "stopped"
    async with AsyncClient(api_key=KEY, base_url=server.url) as client:
        assert (await client.get(job_id)).status in ("queued", "processing")


async def test_history_keeps_every_video_oldest_first_in_python(make_server, tmp_path):
    server = make_server()
    w = widget(server, num_frames=2)
    first = await w.generate("one", seed=1)
    second = await w.generate("two", seed=2)
    assert w.videos == [first, second] and w.video is second
    assert [run["prompt"] for run in w.runs] == ["two", "one"]
    saved = w.save(tmp_path / "out.mp4")
    assert saved.read_bytes() == second.path.read_bytes()
    assert repr(w) == "VideoWidget(prompt='two', runs=2, videos=2, status='completed')"


def test_constructor_checks_its_arguments():
    with pytest.raises(TypeError, match="Did you mean 'num_frames'"):
        VideoWidget(num_frame=3)
    with pytest.raises(InvalidParameterError, match="fps"):
        VideoWidget(fps=0)
    with pytest.raises(TypeError, match="AsyncClient"):
        VideoWidget(client=object())
    w = VideoWidget(prompt="初期値", num_frames=17, seed=5)
    assert (w.prompt, w.num_frames, w.seed) == ("初期値", 17, 5)
    assert w.limits["num_frames"] == {
        "min": 1,
        "max": 81,
        "step": 1,
        "default": 33,
        "kind": "int",
        "label": "Frames",
        "help": w.limits["num_frames"]["help"],
    }
    with pytest.raises(RuntimeError, match="nothing generated yet"):
        w.wait()


def test_no_key_shows_how_to_set_one(monkeypatch):
    monkeypatch.delenv("ECOHASH_BASE_URL", raising=False)
    w = VideoWidget(prompt="no key")
    assert w.backend == "api.ecohash.com"
    w.generate()
    with pytest.raises(Exception, match="ECOHASH_API_KEY"):
        w.wait()
    assert w.runs[0]["error"]["kind"] == "authentication"
    assert "sandbox" in w.runs[0]["error"]["message"]


def test_wait_from_synchronous_code(make_server):
    server = make_server()
    w = VideoWidget(
        prompt="sync",
        num_frames=2,
        client=AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL),
    )
    w.generate()
    video = w.wait(timeout=30)
    assert video.path.exists() and w.wait() is video


async def test_stopping_before_the_task_starts_settles_the_run(make_server):
    server = make_server()
    w = widget(server, prompt="never sent", num_frames=1)
    w.generate()
    w.stop()
    with pytest.raises(asyncio.CancelledError):
        await w
    run = w.runs[0]
    assert (run["phase"], run["active"]) == ("stopped", False)
    assert "nothing was billed" in run["note"]
    assert server.stats.totals()["requests"]["posts"] == 0


async def test_on_video_callbacks_get_each_finished_video(make_server):
    server = make_server()
    w = widget(server, num_frames=1)
    got = []
    w.on_video(got.append)
    first = await w.generate("first")
    second = await w.generate("second")
    assert got == [first, second]
