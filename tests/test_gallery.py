"""VideoGallery against the real local server: a batch as a grid of runs, within the
account's five slots, every item checked before anything is sent."""

from __future__ import annotations

import asyncio

import pytest

from eco_widget import (
    AsyncClient,
    BatchResult,
    InvalidParameterError,
    Video,
    VideoGallery,
    VideoWidget,
)
from tests.conftest import FAST_POLL, KEY
from tests.waiting import DEADLINE, within
from tests.widget_messages import SentMessages

pytestmark = pytest.mark.anyio

IN_FLIGHT = {"queued", "processing"}


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))


def gallery(server, **kwargs) -> VideoGallery:
    client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)
    return VideoGallery(client=client, **kwargs)


async def test_seven_items_make_seven_videos_five_at_a_time(make_server):
    server = make_server(profile="fast", time_scale=0.05, max_active_per_key=5)
    g = gallery(server)
    client = g._client
    assert client is not None
    states: list[list[dict]] = []
    most_in_slots: list[int] = []

    def seen(change) -> None:
        states.append(change["new"])
        most_in_slots.append(client.limiter.active)

    g.observe(seen, names="runs")
    items = [f"clip {i}" for i in range(6)] + [{"prompt": "last clip", "num_frames": 3}]

    result = await g.generate_many(items)

    assert isinstance(result, BatchResult) and result.ok
    assert len(result.videos) == 7 and all(isinstance(v, Video) for v in result)
    assert [v.prompt for v in result] == [*(f"clip {i}" for i in range(6)), "last clip"]
    assert result[6].job.params.num_frames == 3
    assert all(v.path is not None and v.path.exists() for v in result)
    assert len({v.job.id for v in result}) == 7
    # Never more than five in flight: the server refused nothing (a sixth job in flight
    # would have been answered 429 and posted again), and the slots never overflowed.
    assert server.stats.for_key(KEY)["requests"]["posts"] == 7
    assert max(most_in_slots) <= 5
    assert max(sum(run["phase"] in IN_FLIGHT for run in state) for state in states) <= 5
    waited = {run["key"] for state in states for run in state if run["phase"] == "waiting"}
    assert waited == {"r6", "r7"}
    label = next(
        run["phase_label"] for state in states for run in state if run["phase"] == "waiting"
    )
    assert label.startswith("Waiting for a free slot")
    assert [run["key"] for run in g.runs] == [f"r{i}" for i in range(7, 0, -1)]
    assert all(run["phase"] == "completed" for run in g.runs)
    assert g.mode == "grid" and g.videos == list(result)


async def test_a_bad_item_is_named_before_anything_is_sent(make_server):
    server = make_server()
    g = gallery(server)
    items = ["fine", "also fine", "fine too", {"prompt": "too long", "num_frames": 100}]
    with pytest.raises(InvalidParameterError) as caught:
        g.generate_many(items)
    assert caught.value.param == "items[3].num_frames"
    assert "items[3]" in str(caught.value)
    with pytest.raises(InvalidParameterError, match=r"items\[1\]"):
        g.generate_many(["ok", 42])
    with pytest.raises(InvalidParameterError, match="concurrency"):
        g.generate_many(["ok"], concurrency=0)
    assert g.runs == []
    assert server.stats.for_key(KEY)["requests"]["posts"] == 0
    with pytest.raises(RuntimeError, match="generate_many"):
        g.wait()


async def test_a_lower_concurrency_waits_visibly(make_server):
    server = make_server(profile="fast", time_scale=0.05)
    g = gallery(server, num_frames=2)
    states: list[list[dict]] = []
    g.observe(lambda change: states.append(change["new"]), names="runs")

    result = await g.generate_many(["a", "b", "c"], concurrency=1)

    assert [v.prompt for v in result] == ["a", "b", "c"]
    assert all(v.job.params.num_frames == 2 for v in result)  # the gallery's default
    in_flight = [sum(run["phase"] in IN_FLIGHT for run in state) for state in states]
    assert max(in_flight) == 1
    waiting = [run for state in states for run in state if run["phase"] == "waiting"]
    assert {run["key"] for run in waiting} == {"r2", "r3"}


async def test_a_failed_item_does_not_stop_the_others(make_server):
    class Picky:
        def __init__(self):
            from eco_widget.server._sandbox_render import render_sandbox_video

            self.render_video = render_sandbox_video

        def render(self, params, progress):
            if "broken" in params.prompt:
                raise RuntimeError("cannot draw that")
            return self.render_video(params)

    server = make_server(renderer=Picky())
    g = gallery(server, num_frames=1)
    g.generate_many(["fine", "broken", "also fine"])
    result = await within(g, DEADLINE, "the gallery's batch")

    assert [v is not None for v in result] == [True, False, True]
    assert "cannot draw that" in str(result.errors[1])
    phases = {run["prompt"]: run["phase"] for run in g.runs}
    assert phases == {"fine": "completed", "broken": "failed", "also fine": "completed"}


async def test_each_card_video_is_sent_on_request_as_one_buffer(make_server):
    server = make_server()
    g = gallery(server, num_frames=1)
    sent = SentMessages(g)
    result = await g.generate_many(["one", "two"])

    g._on_message(g, {"type": "video", "key": "r2"}, [])

    content, buffers = await sent.wait_for(lambda m: m.get("key") == "r2")
    assert content["key"] == "r2" and content["type"] == "video"
    assert bytes(buffers[0]) == result[1].path.read_bytes()
    assert not any(isinstance(value, bytes) for run in g.runs for value in run.values())


def test_items_given_to_the_constructor_start_at_once_and_wait_blocks(make_server):
    server = make_server()
    g = gallery(server, items=["x", "y"], num_frames=1)
    result = g.wait(timeout=60)
    assert [v.prompt for v in result] == ["x", "y"]
    assert repr(g) == "VideoGallery(prompt='', runs=2, videos=2, status='completed')"
    assert isinstance(g, VideoWidget)
    with pytest.raises(TypeError, match="Did you mean 'num_frames'"):
        VideoGallery(num_frame=2)


# -- a gallery's batch is journaled and resumes ---------------------------------------------
def posts(server) -> int:
    return server.stats.for_key(KEY)["requests"]["posts"]


async def test_the_same_gallery_again_shows_its_saved_videos_without_a_request(make_server):
    server = make_server(max_active_per_key=5)
    items = ["a koi pond", {"prompt": "a lighthouse", "num_frames": 3}, "a red balloon"]
    first = await gallery(server, num_frames=2).generate_many(items)
    assert first.ok and posts(server) == 3
    requests = dict(server.stats.for_key(KEY)["requests"])

    again = gallery(server, num_frames=2)  # a new client, as after a kernel restart
    second = await again.generate_many(items)

    assert second.ok
    assert server.stats.for_key(KEY)["requests"] == requests  # not one request
    assert [v.job.id for v in second] == [v.job.id for v in first]
    assert [v.path for v in second] == [v.path for v in first]
    assert [v.seed for v in second] == [v.seed for v in first]
    assert [run["phase"] for run in again.runs] == ["completed"] * 3
    assert [run["seed"] for run in reversed(again.runs)] == [v.seed for v in first]


async def test_a_stopped_gallery_made_again_follows_its_jobs_instead_of_submitting(make_server):
    server = make_server(profile="fast", time_scale=0.2, max_active_per_key=5)
    items = ["a koi pond", "a lighthouse"]
    g = gallery(server, num_frames=2)
    submitted = asyncio.Event()

    def seen(change) -> None:
        if all(run["job_id"] for run in change["new"]) and len(change["new"]) == 2:
            submitted.set()

    g.observe(seen, names="runs")
    g.generate_many(items)
    await asyncio.wait_for(submitted.wait(), 60)
    ids = sorted(run["job_id"] for run in g.runs)
    seeds = sorted(run["seed"] for run in g.runs)
    g.stop()
    stopped = await within(g, DEADLINE, "the gallery's batch")
    assert not stopped.ok and set(stopped.errors) == {0, 1}
    assert posts(server) == 2

    again = gallery(server, num_frames=2)
    result = await again.generate_many(items)

    assert result.ok, result.summary()
    assert posts(server) == 2  # the jobs of the stopped gallery, followed to their videos
    assert sorted(v.job.id for v in result) == ids
    assert sorted(v.seed for v in result) == seeds
    assert all(v.path is not None and v.path.exists() for v in result)


async def test_an_item_whose_reply_was_lost_is_submitted_again_with_its_seed(make_server):
    """A try whose outcome is unknown (its row stays "submitting") is not followed: the
    item is submitted again, with the seed drawn the first time."""
    server = make_server()
    items = ["a koi pond"]
    client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)
    plan = client._plan(items, 5, None, resume=False)
    seed = plan.params_for(0).seed
    assert client.journal is not None
    client.journal.reserve(
        plan.params_for(0), base_url=client._settings.origin, account=client._key_id,
        batch=(plan.key, 0),
    )

    result = await VideoGallery(client=client).generate_many(items)

    assert result.ok and posts(server) == 1
    assert result[0].seed == seed
