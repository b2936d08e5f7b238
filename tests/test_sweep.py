"""Parameter sweeps: the plan (order, checks, cost) stepped by hand, and sweeps in a
VideoGallery against the real local server (layout, results by value, resume, the
``max_videos`` refusal with nothing sent)."""

from __future__ import annotations

import pytest

from eco_widget import AsyncClient, InvalidParameterError, VideoGallery
from eco_widget._sweep import SweepPlan, SweepResult
from tests.conftest import FAST_POLL, KEY
from tests.waiting import within

# -- the plan -------------------------------------------------------------------------------


def test_the_first_axis_varies_fastest():
    plan = SweepPlan("a koi pond", seed=[1, 2, 3], guidance_scale=[3.0, 5.0])
    assert plan.shape == (3, 2)
    assert [(p.seed, p.guidance_scale) for p in plan.params] == [
        (1, 3.0),
        (2, 3.0),
        (3, 3.0),
        (1, 5.0),
        (2, 5.0),
        (3, 5.0),
    ]
    assert [axis.name for axis in plan.axes] == ["seed", "guidance_scale"]


def test_a_list_of_prompts_is_the_first_axis_and_single_values_are_held():
    plan = SweepPlan(["a koi pond", "a lighthouse"], num_inference_steps=[30, 50], fps=8)
    assert [axis.name for axis in plan.axes] == ["prompt", "num_inference_steps"]
    assert [(p.prompt, p.num_inference_steps) for p in plan.params] == [
        ("a koi pond", 30),
        ("a lighthouse", 30),
        ("a koi pond", 50),
        ("a lighthouse", 50),
    ]
    assert {p.fps for p in plan.params} == {8}


def test_defaults_fill_what_the_sweep_does_not_name():
    plan = SweepPlan("a", defaults={"num_frames": 9, "fps": 12}, seed=[1, 2], fps=[8, 24])
    assert {p.num_frames for p in plan.params} == {9}
    assert [p.fps for p in plan.params] == [8, 8, 24, 24]


def test_the_cost_is_the_seconds_of_video():
    plan = SweepPlan("a", seed=[1, 2], num_frames=[17, 33], fps=16)
    assert len(plan) == 4
    assert plan.billed_seconds == pytest.approx(2 * 17 / 16 + 2 * 33 / 16)
    assert "4 videos" in repr(plan) and "seed × 2, num_frames × 2" in repr(plan)


@pytest.mark.parametrize(
    ("axes", "param"),
    [
        ({"seed": [1, 2], "guidance_scale": [3.0, 99.0]}, "guidance_scale[1]"),
        ({"num_frames": [33, 0]}, "num_frames[1]"),
        ({"seed": [1, 1]}, "seed[1]"),
        ({"seed": []}, "seed"),
        ({"sed": [1, 2]}, "sed"),
        ({"fps": 16}, "axes"),
    ],
)
def test_a_bad_axis_is_named_with_its_position(axes, param):
    with pytest.raises(InvalidParameterError) as caught:
        SweepPlan("a koi pond", **axes)
    assert caught.value.param == param


def test_more_videos_than_allowed_are_refused_with_their_count_and_cost():
    plan = SweepPlan(["a", "b"], seed=list(range(13)))
    with pytest.raises(InvalidParameterError) as caught:
        plan.check_size(25)
    assert caught.value.param == "max_videos"
    message = str(caught.value)
    assert "26 videos" in message and f"{plan.billed_seconds:g} billed seconds" in message
    assert "max_videos=26" in message
    plan.check_size(26)


# -- in a gallery, against the sandbox -------------------------------------------------------
pytestmark_anyio = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))


def gallery(server, **defaults) -> VideoGallery:
    client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)
    return VideoGallery(client=client, **defaults)


def posts(server) -> int:
    return server.stats.for_key(KEY)["requests"]["posts"]


@pytestmark_anyio
async def test_a_two_axis_sweep_makes_every_cell_and_lays_out_the_table(make_server):
    server = make_server(max_active_per_key=5)
    g = gallery(server, num_frames=2)
    g.sweep("a koi pond", seed=[1, 2, 3], guidance_scale=[3.0, 5.0])
    result = await within(g.result(), 60, "the sweep")

    assert isinstance(result, SweepResult) and result.ok and len(result) == 6
    assert posts(server) == 6
    assert [(v.seed, v.job.params.guidance_scale) for v in result] == [
        (1, 3.0),
        (2, 3.0),
        (3, 3.0),
        (1, 5.0),
        (2, 5.0),
        (3, 5.0),
    ]
    assert result.by(seed=2, guidance_scale=5.0) is result[4]
    assert result.cells[(3, 3.0)] is result[2]
    with pytest.raises(KeyError, match="seed in"):
        result.by(seed=9, guidance_scale=5.0)
    with pytest.raises(KeyError, match="name every swept parameter"):
        result.by(seed=1)
    layout = g.sweep_layout
    assert [(a["name"], a["label"], a["values"]) for a in layout["axes"]] == [
        ("seed", "Seed", [1, 2, 3]),
        ("guidance_scale", "Guidance", [3.0, 5.0]),
    ]
    by_key = {run["key"]: run for run in g.runs}
    cells = [(by_key[key]["seed"], by_key[key]["guidance_scale"]) for key in layout["runs"]]
    assert cells == [(v.seed, v.job.params.guidance_scale) for v in result]
    assert g.mode == "grid"


@pytestmark_anyio
async def test_one_and_three_axis_sweeps(make_server):
    server = make_server(max_active_per_key=5)
    g = gallery(server, num_frames=2)
    one = await within(g.sweep(["a koi pond", "a lighthouse"]).result(), 60, "one axis")
    assert [v.prompt for v in one] == ["a koi pond", "a lighthouse"]
    assert [a["name"] for a in g.sweep_layout["axes"]] == ["prompt"]

    three = await within(
        g.sweep("a", seed=[1, 2], fps=[8, 16], num_inference_steps=[20, 30]).result(),
        60,
        "three axes",
    )
    assert len(three) == 8 and three.ok
    assert three.by(seed=2, fps=16, num_inference_steps=30) is three[7]
    assert [a["name"] for a in g.sweep_layout["axes"]] == ["seed", "fps", "num_inference_steps"]
    assert len(g.sweep_layout["runs"]) == 8


@pytestmark_anyio
async def test_the_same_sweep_again_is_picked_up_from_the_journal(make_server):
    server = make_server(max_active_per_key=5)
    first = await within(
        gallery(server, num_frames=2).sweep("a koi pond", seed=[4, 5]).result(), 60, "first"
    )
    requests = dict(server.stats.for_key(KEY)["requests"])

    again = gallery(server, num_frames=2)  # a new client, as after a kernel restart
    second = await within(again.sweep("a koi pond", seed=[4, 5]).result(), 60, "again")

    assert server.stats.for_key(KEY)["requests"] == requests
    assert [v.job.id for v in second] == [v.job.id for v in first]


@pytestmark_anyio
async def test_too_big_a_sweep_sends_nothing_and_keeps_the_gallery_as_it_was(make_server):
    server = make_server()
    g = gallery(server)
    with pytest.raises(InvalidParameterError) as caught:
        g.sweep(["a", "b", "c"], seed=list(range(9)))
    assert "27 videos" in str(caught.value)
    assert posts(server) == 0 and g.runs == [] and g.sweep_layout is None
    plan = g.plan_sweep(["a", "b", "c"], seed=list(range(9)))
    assert len(plan) == 27 and posts(server) == 0


@pytestmark_anyio
async def test_compare_shows_two_videos_under_one_transport(make_server):
    server = make_server()
    g = gallery(server, num_frames=2)
    made = await within(g.sweep("a koi pond", seed=[1, 2]).result(), 60, "two videos")

    side = gallery(server)
    side.compare(made[0], made[1].job.id)
    compared = await within(side.result(), 60, "the compared videos")
    assert [v.job.id for v in compared] == [v.job.id for v in made]
    assert side.mode == "compare" and side.sweep_layout is None
    assert [run["job_id"] for run in reversed(side.runs)] == [v.job.id for v in made]
    assert all(run["phase"] == "completed" for run in side.runs)


@pytestmark_anyio
async def test_a_sweep_shows_as_plain_html_titled_by_its_cells(make_server):
    from html.parser import HTMLParser

    server = make_server(max_active_per_key=5)
    g = gallery(server, num_frames=2)
    result = await within(
        g.sweep("a koi pond", seed=[1, 2], guidance_scale=[3.0, 5.0]).result(), 60, "sweep"
    )
    grid = g.show_videos()

    class Titles(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.videos, self.text = 0, ""

        def handle_starttag(self, tag, attrs) -> None:
            self.videos += tag == "video"

        def handle_data(self, data) -> None:
            self.text += data + "\n"

    page = Titles()
    page.feed(grid._repr_html_())
    assert page.videos == 4
    titles = ["Seed 1 · Guidance 3.0", "Seed 2 · Guidance 3.0", "Seed 1 · Guidance 5.0"]
    positions = [page.text.index(title) for title in [*titles, "Seed 2 · Guidance 5.0"]]
    assert positions == sorted(positions)
    assert repr(grid).startswith("VideoGrid(4 videos, 2 columns")
    assert len(result) == 4
