"""Never lose a video: a widget follows jobs submitted earlier (``VideoWidget.from_job``),
and a new widget offers, then resumes, the jobs an earlier session left unfinished.
Against the real local server; each test has its own data folder and journal."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from eco_widget import (
    AsyncClient,
    InvalidParameterError,
    Journal,
    VideoWidget,
    _journal,
    _journal_entry,
)
from tests.conftest import FAST_POLL, KEY
from tests.waiting import DEADLINE, within
from tests.widget_messages import SentMessages

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))


def client_for(server, key: str = KEY, **kwargs) -> AsyncClient:
    return AsyncClient(api_key=key, base_url=server.url, poll_policy=FAST_POLL, **kwargs)


def phases(states: list[list[dict]], key: str = "r1") -> list[str]:
    seen: list[str] = []
    for state in states:
        for run in state:
            if run["key"] == key and (not seen or seen[-1] != run["phase"]):
                seen.append(run["phase"])
    return seen


def record_states(w: VideoWidget) -> list[list[dict]]:
    states: list[list[dict]] = [w.runs]
    w.observe(lambda change: states.append(change["new"]), names="runs")
    return states


@pytest.fixture
def new_session(monkeypatch):
    """From now on, this process counts as a session that started after every job
    submitted so far (as a restarted kernel is)."""

    def start() -> None:
        session = f"{_journal.session_id()}-restarted"
        monkeypatch.setattr(_journal, "session_id", lambda: session)
        monkeypatch.setattr(_journal_entry, "session_id", lambda: session)

    return start


async def test_from_job_follows_a_running_job_to_its_saved_video(make_server, tmp_path):
    server = make_server(profile="fast", time_scale=0.3)
    async with client_for(server) as earlier:
        job = await earlier.submit("a lantern in the fog", num_frames=5, fps=5, seed=77)

    w = VideoWidget.from_job(job.id, client=client_for(server))
    states = record_states(w)
    video = await within(w, DEADLINE, "the widget's video")

    seen = phases(states)
    assert seen[0] == "resuming"
    assert "processing" in seen
    assert seen[-2:] == ["downloading", "completed"]
    run = w.runs[0]
    assert (run["job_id"], run["seed"], run["prompt"]) == (job.id, 77, "a lantern in the fog")
    assert (run["num_frames"], run["fps"], run["duration_seconds"]) == (5, 5, 1.0)
    assert run["fraction"] == 1.0 and run["active"] is False and run["error"] is None
    assert run["video"]["saved_path"] == str(video.path)
    assert video.path.parent == tmp_path / "home" / "videos"
    assert video.job.id == job.id and video.seed == 77
    # The journal's parameters fill the form, so the same video can be made again.
    assert (w.prompt, w.num_frames, w.fps) == ("a lantern in the fog", 5, 5)
    assert server.stats.for_key(KEY)["requests"]["posts"] == 1  # nothing submitted again


async def test_from_job_on_a_completed_job_downloads_it(make_server):
    server = make_server()
    async with client_for(server) as earlier:
        job = await earlier.wait(await earlier.submit("a paper boat", num_frames=3, seed=5))
    assert job.is_completed

    w = VideoWidget.from_job(job.id, client=client_for(server))
    states = record_states(w)
    video = await within(w, DEADLINE, "the widget's video")

    assert phases(states)[-1] == "completed"
    run = w.runs[0]
    assert (run["job_id"], run["seed"], run["prompt"]) == (job.id, 5, "a paper boat")
    assert video.path.exists() and run["video"]["size"] == video.path.stat().st_size
    assert run["total_seconds"] is not None


async def test_from_job_of_a_saved_video_reads_it_from_disk(make_server):
    server = make_server()
    async with client_for(server) as earlier:
        made = await earlier.generate("kept", num_frames=2, seed=9)
    gets = server.stats.for_key(KEY)["requests"]["job_gets"]

    w = VideoWidget.from_job(made.job.id, client=client_for(server))
    video = await within(w, DEADLINE, "the widget's video")

    assert video.path == made.path
    assert w.runs[0]["phase"] == "completed"
    assert server.stats.for_key(KEY)["requests"]["job_gets"] == gets


async def test_a_job_unknown_to_the_journal_takes_the_servers_parameters(make_server, tmp_path):
    server = make_server()
    async with AsyncClient(api_key=KEY, base_url=server.url, journal=False) as other:
        job = await other.submit("from elsewhere", num_frames=4, seed=31)

    w = VideoWidget.from_job(job.id, client=client_for(server))
    assert w.runs[0]["prompt"] is None and w.runs[0]["job_id"] == job.id  # not known yet
    video = await within(w, DEADLINE, "the widget's video")

    run = w.runs[0]
    assert (run["prompt"], run["seed"], run["num_frames"]) == ("from elsewhere", 31, 4)
    assert video.seed == 31


async def test_a_failed_job_shows_its_reason(make_server):
    class Broken:
        def render(self, params, progress):
            raise RuntimeError("out of GPU memory")

    server = make_server(renderer=Broken())
    async with client_for(server) as earlier:
        job = await earlier.submit("doomed", num_frames=1)

    w = VideoWidget.from_job(job.id, client=client_for(server))
    with pytest.raises(Exception, match="out of GPU memory"):
        await within(w, DEADLINE, "the widget's video")
    run = w.runs[0]
    assert (run["phase"], run["active"], run["error"]["kind"]) == ("failed", False, "failed")
    assert "out of GPU memory" in run["error"]["message"]


async def test_an_unknown_job_shows_an_error_in_the_run(make_server):
    server = make_server()
    w = VideoWidget.from_job("vid_000000000000000000000000", client=client_for(server))
    with pytest.raises(Exception, match="vid_000000000000000000000000"):
        await within(w, DEADLINE, "the widget's video")
    run = w.runs[0]
    assert (run["phase"], run["active"]) == ("error", False)
    assert "vid_000000000000000000000000" in run["error"]["message"]
    with pytest.raises(InvalidParameterError, match="job_id"):
        VideoWidget.from_job("  ", client=client_for(server))


async def test_an_expired_video_is_reported_without_a_request(make_server):
    server = make_server()
    client = client_for(server, autosave=False)  # seen completed, never saved
    job = await client.wait(await client.submit("too late", num_frames=1))
    journal = client.journal
    assert journal is not None
    past = dataclasses.replace(job, expires_at=time.time() - 60)  # its URL's day is over
    journal.record(past, base_url=client._settings.origin, account=client._key_id)
    gets = server.stats.for_key(KEY)["requests"]["job_gets"]

    w = VideoWidget.from_job(job.id, client=client)
    with pytest.raises(Exception, match="expired"):
        await within(w, DEADLINE, "the widget's video")

    run = w.runs[0]
    assert run["phase"] == "error" and "expired" in run["error"]["message"]
    assert server.stats.for_key(KEY)["requests"]["job_gets"] == gets
    assert journal.get(client._settings.origin, job.id).status == "expired"


async def test_stop_waiting_for_an_attached_job_says_how_to_pick_it_up(make_server):
    server = make_server(profile="realistic", time_scale=1.0)
    async with client_for(server) as earlier:
        job = await earlier.submit("slow", num_frames=1)
    w = VideoWidget.from_job(job.id, client=client_for(server))
    queued = asyncio.Event()
    w.observe(lambda change: change["new"][0]["phase"] == "queued" and queued.set(), "runs")
    await asyncio.wait_for(queued.wait(), 30)

    w._on_message(w, {"type": "stop", "key": "r1"}, [])
    with pytest.raises(asyncio.CancelledError):
        await within(w, DEADLINE, "the widget's video")

    run = w.runs[0]
    assert run["phase"] == "stopped"
    assert f"VideoWidget.from_job({job.id!r})" in run["note"]


async def test_a_new_session_offers_the_pending_jobs_and_resumes_them(make_server, new_session):
    server = make_server(profile="fast", time_scale=0.2)
    async with client_for(server) as earlier:
        first = await earlier.submit("<b>first</b> job", num_frames=3, seed=1)
        second = await earlier.submit("second job", num_frames=3, seed=2)
    new_session()

    w = VideoWidget(client=client_for(server))

    assert [item["job_id"] for item in w.pending] == [first.id, second.id]
    offer = w.pending[0]
    assert set(offer) == {"job_id", "prompt", "seed", "status", "submitted_at"}
    assert (offer["prompt"], offer["seed"], offer["status"]) == ("<b>first</b> job", 1, "queued")
    assert offer["submitted_at"] <= time.time() * 1000
    assert KEY not in str(w.pending) and "http" not in str(w.pending)
    assert w.runs == []

    tasks = w.resume()
    assert w.pending == []
    videos = await asyncio.gather(*tasks)

    assert [video.job.id for video in videos] == [first.id, second.id]
    assert [run["job_id"] for run in w.runs] == [second.id, first.id]  # newest first
    assert all(run["phase"] == "completed" and run["video"] for run in w.runs)
    assert server.stats.for_key(KEY)["requests"]["posts"] == 2
    # Nothing is offered any more: the videos are saved.
    assert VideoWidget(client=client_for(server)).pending == []


async def test_the_resume_message_attaches_the_pending_jobs(make_server, new_session):
    server = make_server()
    async with client_for(server) as earlier:
        job = await earlier.submit("clicked", num_frames=1)
    new_session()
    w = VideoWidget(client=client_for(server))
    assert len(w.pending) == 1

    sent = SentMessages(w)
    w._on_message(w, {"type": "resume", "request": "q1"}, [])

    answer = await sent.answer("q1")
    assert answer == {"type": "answer", "request": "q1", "ok": True, "runs": ["r1"]}
    assert w.pending == []
    video = await within(w, DEADLINE, "the widget's video")
    assert video.job.id == job.id and w.runs[0]["phase"] == "completed"


async def test_jobs_this_session_follows_are_not_offered(make_server, new_session):
    server = make_server(profile="realistic", time_scale=1.0)
    w = VideoWidget(client=client_for(server), prompt="mine", num_frames=1)
    submitted = asyncio.Event()
    w.observe(lambda change: change["new"][0]["job_id"] and submitted.set(), names="runs")
    w.generate()
    await asyncio.wait_for(submitted.wait(), 30)
    new_session()  # even a job older than the session is left alone while a widget has it

    assert VideoWidget(client=client_for(server)).pending == []
    w.stop()


async def test_no_offer_without_a_journal_or_a_key(make_server, new_session, monkeypatch):
    server = make_server()
    async with client_for(server) as earlier:
        await earlier.submit("journaled", num_frames=1)
    new_session()
    quiet = AsyncClient(api_key=KEY, base_url=server.url, journal=False)
    assert VideoWidget(client=quiet).pending == []
    assert VideoWidget(client=quiet).resume() == []

    monkeypatch.delenv("ECOHASH_BASE_URL", raising=False)
    w = VideoWidget()  # no key: the widget still shows, without an offer
    assert w.pending == [] and w.backend == "api.ecohash.com"


async def test_a_damaged_journal_leaves_the_widget_usable(make_server, tmp_path):
    server = make_server()
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database" * 100)
    client = AsyncClient(
        api_key=KEY, base_url=server.url, poll_policy=FAST_POLL, journal=Journal(broken)
    )
    w = VideoWidget(client=client)
    assert w.pending == []


def test_jobs_of_a_running_process_are_not_offered_but_those_of_an_ended_one_are():
    import dataclasses
    import socket
    import subprocess
    import sys

    from eco_widget.notebook._pending import from_earlier_session
    from tests.test_flows_journal import entry

    other = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    host = socket.gethostname()
    theirs = dataclasses.replace(entry(status="queued"), session=f"{host}:{other.pid}:abcd")
    try:
        assert not from_earlier_session(theirs)  # alive: its own to follow
    finally:
        other.communicate(b"\n", timeout=60)  # ends and is reaped
    assert from_earlier_session(theirs)
    mine = dataclasses.replace(theirs, session=_journal.session_id())
    assert not from_earlier_session(mine)
    assert from_earlier_session(dataclasses.replace(theirs, session="elsewhere:1:ab"))
    assert from_earlier_session(dataclasses.replace(theirs, session=None))
