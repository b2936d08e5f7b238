"""A widget used from other threads and event loops than its home loop, against the real
local server: the home loop runs in a thread of its own here (as a kernel's main loop
does), and every call comes from elsewhere."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from eco_widget import (
    AsyncClient,
    Client,
    InvalidParameterError,
    Video,
    VideoGallery,
    VideoWidget,
)
from tests.conftest import FAST_POLL, KEY
from tests.waiting import joined
from tests.widget_messages import SentMessages


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))


@pytest.fixture
def home_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, like a kernel's main loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="home", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def made_at_home(
    loop: asyncio.AbstractEventLoop, server, cls: type[VideoWidget] = VideoWidget, **kwargs
) -> VideoWidget:
    async def make() -> VideoWidget:
        client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)
        return cls(client=client, **kwargs)

    return asyncio.run_coroutine_threadsafe(make(), loop).result(10)


def on_home_thread(w: VideoWidget) -> list[str]:
    """The names of the threads the widget's job tasks ran on, recorded by a probe."""
    names: list[str] = []
    w.observe(lambda _: names.append(threading.current_thread().name), names="runs")
    return names


def test_generate_and_wait_from_other_threads_run_the_job_at_home(make_server, home_loop):
    server = make_server()
    w = made_at_home(home_loop, server, prompt="from a thread", num_frames=1)
    threads = on_home_thread(w)

    first = w.generate(seed=3).wait(timeout=60)  # this thread runs no loop
    results: list[Video] = []
    worker = threading.Thread(
        target=lambda: results.append(w.generate(seed=4).wait(60)), daemon=True
    )
    worker.start()
    joined(worker, 60, "the video generated from another thread")

    assert isinstance(first, Video) and first.seed == 3
    assert [v.seed for v in results] == [4]
    assert [run["phase"] for run in w.runs] == ["completed", "completed"]
    assert set(threads) == {"home"}  # every state change happened on the home loop
    assert server.stats.for_key(KEY)["requests"]["posts"] == 2


def test_await_from_another_event_loop(make_server, home_loop):
    server = make_server()
    w = made_at_home(home_loop, server, prompt="awaited elsewhere", num_frames=1)

    async def elsewhere() -> Video:
        return await w.generate(seed=8)

    video = asyncio.run(elsewhere())
    assert video.seed == 8 and w.status == "completed"


def test_two_generates_at_once_from_two_threads_give_two_runs(make_server, home_loop):
    server = make_server()
    w = made_at_home(home_loop, server, prompt="at once", num_frames=1)
    start = threading.Barrier(2)

    def go(seed: int) -> None:
        start.wait(10)
        w.generate(seed=seed)

    threads = [threading.Thread(target=go, args=(seed,), daemon=True) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        joined(thread, 10, "both threads to call generate")
    for run in list(w._runs):
        run.outcome.result(60)
    keys = sorted(run["key"] for run in w.runs)
    assert keys == ["r1", "r2"]
    assert sorted(v.seed for v in w.videos) == [1, 2]
    assert server.stats.for_key(KEY)["requests"]["posts"] == 2


def test_bad_values_from_another_thread_raise_there_and_send_nothing(make_server, home_loop):
    server = make_server()
    w = made_at_home(home_loop, server, prompt="keep me", num_frames=1)
    with pytest.raises(InvalidParameterError) as info:
        w.generate(fps=0)
    assert info.value.param == "fps"
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), home_loop).result(10)
    assert w.form_error == {"param": "fps", "message": info.value.message}
    assert w.runs == [] and server.stats.for_key(KEY)["requests"]["posts"] == 0


def test_stop_from_another_thread_stops_the_run_on_the_home_loop(make_server, home_loop):
    server = make_server(profile="fast", time_scale=1.0)
    w = made_at_home(home_loop, server, prompt="stopped from afar", num_frames=1)
    submitted = threading.Event()
    w.observe(lambda change: change["new"][0]["job_id"] and submitted.set(), names="runs")
    w.generate()
    assert submitted.wait(30)

    w.stop()

    with pytest.raises(asyncio.CancelledError):
        w.wait(30)
    [run] = w.runs
    assert run["phase"] == "stopped" and run["job_id"] in run["note"]
    assert server.stats.for_key(KEY)["requests"]["posts"] == 1


def test_clicks_from_a_thread_are_answered_and_run_at_home(make_server, home_loop):
    server = make_server()
    w = made_at_home(home_loop, server, prompt="clicked", num_frames=1)
    sent = SentMessages(w)
    threads = on_home_thread(w)
    params = {"prompt": "clicked", "num_frames": 1, "fps": 8, "seed": 2}
    for request in ("q1", "q2", "q3"):
        w._on_message(w, {"type": "generate", "request": request, "params": params}, [])
    w._on_message(w, {"type": "generate", "request": "q4", "params": {"fps": 0}}, [])

    async def answers() -> list[dict]:
        return [await sent.answer(request) for request in ("q1", "q2", "q3", "q4")]

    got = asyncio.run_coroutine_threadsafe(answers(), home_loop).result(30)
    assert [a["run"] for a in got[:3]] == ["r1", "r2", "r3"]
    assert got[3]["ok"] is False and got[3]["param"] == "fps"
    for run in list(w._runs):
        run.outcome.result(60)
    assert [run["phase"] for run in w.runs] == ["completed"] * 3
    assert set(threads) == {"home"}
    assert server.stats.for_key(KEY)["requests"]["posts"] == 3


def test_resume_from_another_loop_gives_futures_of_that_loop(make_server, home_loop, monkeypatch):
    from eco_widget import _journal, _journal_entry

    server = make_server()
    with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as earlier:
        job = earlier.submit("left behind", num_frames=1, seed=6)
    session = f"{_journal.session_id()}-restarted"  # as a restarted kernel's
    monkeypatch.setattr(_journal, "session_id", lambda: session)
    monkeypatch.setattr(_journal_entry, "session_id", lambda: session)
    w = made_at_home(home_loop, server)
    assert [item["job_id"] for item in w.pending] == [job.id]
    with pytest.raises(RuntimeError, match="runs none"):
        w.resume()  # this thread runs no loop to give futures of

    async def elsewhere() -> list[Video]:
        return await asyncio.gather(*w.resume())

    [video] = asyncio.run(elsewhere())
    assert video.job.id == job.id and video.seed == 6
    assert w.pending == [] and w.runs[0]["phase"] == "completed"


def test_a_gallery_fed_from_another_thread(make_server, home_loop):
    server = make_server()
    g = made_at_home(home_loop, server, cls=VideoGallery, num_frames=1)
    threads = on_home_thread(g)
    result = g.generate_many(["one", {"prompt": "two", "seed": 2}]).wait(60)
    assert [v.prompt for v in result] == ["one", "two"]
    assert set(threads) == {"home"}
    assert server.stats.for_key(KEY)["requests"]["posts"] == 2


def test_state_from_the_front_end_is_applied_on_the_home_loop(make_server, home_loop):
    server = make_server()
    w = made_at_home(home_loop, server, prompt="before", num_frames=1)
    applied = threading.Event()
    where: list[str] = []

    def seen(change: dict) -> None:
        where.append(threading.current_thread().name)
        applied.set()

    w.observe(seen, names="prompt")
    # What the kernel does with a front end's "update" (a typed prompt), here on a thread
    # that is not the home loop's, as a kernel subshell would.
    update = {"content": {"data": {"method": "update", "state": {"prompt": "typed"}}}}
    w._handle_msg(update)
    assert applied.wait(10)
    assert w.prompt == "typed" and where == ["home"]
