"""Never losing a video, through both clients against the real local server: the journal,
auto-save, result(), resume(), the slot limiter and batches."""

from __future__ import annotations

import threading

import av
import pytest

from eco_widget import (
    AsyncClient,
    BatchResult,
    Client,
    InvalidParameterError,
    JobFailedError,
    Journal,
    SlotWait,
)
from tests.conftest import FAST_POLL, KEY
from tests.waiting import joined


@pytest.fixture(autouse=True)
def home(monkeypatch, tmp_path):
    """A private data folder (journal and videos) per test."""
    folder = tmp_path / "home"
    monkeypatch.setenv("ECOHASH_HOME", str(folder))
    return folder


def client_for(server, **kwargs) -> Client:
    return Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL, **kwargs)


def async_client_for(server, **kwargs) -> AsyncClient:
    return AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL, **kwargs)


def posts(server) -> int:
    return server.stats.for_key(KEY)["requests"]["posts"]


def video_gets(server) -> int:
    return server.stats.for_key(KEY)["requests"]["video_gets"]


def frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


class FailFor:
    """A renderer that fails the prompts containing ``word`` and renders the rest."""

    def __init__(self, word: str):
        from eco_widget.server import SandboxRenderer

        self.word, self.inner = word, SandboxRenderer()

    def render(self, params, progress):
        if self.word in params.prompt:
            raise RuntimeError("the model refused")
        return self.inner.render(params, progress)


# -- journal and auto-save ------------------------------------------------------------------
def test_generate_saves_at_once_and_the_journal_knows_where(make_server, home):
    server = make_server()
    with client_for(server) as client:
        video = client.generate("a red balloon", num_frames=5, seed=11)
    assert video.path is not None and video.path.parent == home / "videos"
    assert video.path.name.endswith(f"-s11-{video.job.id}.mp4") and frames(video.path) == 5
    entry = Journal().get(server.url, video.job.id)
    assert entry.status == "completed" and entry.seed == 11
    assert entry.saved_path == str(video.path) and entry.is_saved
    assert entry.expires_at is not None and entry.completed_at is not None


def test_autosave_off_keeps_the_bytes_in_memory(make_server, home):
    server = make_server()
    with client_for(server, autosave=False) as client:
        video = client.generate("a red balloon", num_frames=5)
    assert video.path is None and video.data[4:8] == b"ftyp"
    assert not (home / "videos").exists()
    assert Journal().get(server.url, video.job.id).saved_path is None


def test_no_journal_writes_nothing(make_server, home):
    server = make_server()
    with client_for(server, journal=False, autosave=False) as client:
        client.generate("a red balloon", num_frames=5)
    assert not (home / "journal.sqlite3").exists()


def test_a_saved_video_is_read_back_from_disk_without_its_url(make_server):
    server = make_server()
    with client_for(server) as client:
        video = client.generate("a red balloon", num_frames=5)
        gets = video_gets(server)
        assert client.download(video.job.id) == video.path.read_bytes()
        again = client.result(video.job.id)
    assert again.path == video.path and video_gets(server) == gets


def test_bad_autosave_is_refused():
    with pytest.raises(InvalidParameterError, match="autosave"):
        Client(api_key=KEY, base_url="http://127.0.0.1:9", autosave=3)


# -- result and resume ------------------------------------------------------------------
def test_result_picks_up_a_job_submitted_earlier(make_server):
    server = make_server()
    with client_for(server, autosave=False) as first:
        job = first.submit("a red balloon", num_frames=5)
    with client_for(server) as later:
        video = later.result(job.id)
    assert video.seed == job.seed and frames(video.path) == 5
    assert posts(server) == 1


def test_resume_recovers_every_unfinished_job_and_then_has_nothing_left(make_server):
    server = make_server()
    with client_for(server, autosave=False) as first:
        queued = [first.submit(f"job {i}", num_frames=5) for i in range(3)]
        done = first.wait(first.submit("finished, never downloaded", num_frames=5))
    with client_for(server) as later:
        result = later.resume()
        assert sorted(v.job.id for v in result.videos) == sorted([j.id for j in queued] + [done.id])
        assert all(frames(v.path) == 5 for v in result.videos)
        assert result.errors == {} and result.running == []
        assert "4 videos recovered" in result.summary()
        assert not later.resume()  # nothing left to do
    assert posts(server) == 4


def test_resume_reports_a_failed_job_once(make_server):
    server = make_server(renderer=FailFor("doomed"))
    with client_for(server, autosave=False) as first:
        first.submit("doomed", num_frames=5)
    with client_for(server) as later:
        result = later.resume()
        assert result.videos == [] and len(result.errors) == 1
        (error,) = result.errors.values()
        assert isinstance(error, JobFailedError)
        assert not later.resume()


def test_resume_only_touches_its_own_account(make_server):
    from tests.conftest import OTHER_KEY

    server = make_server()
    with Client(api_key=OTHER_KEY, base_url=server.url, poll_policy=FAST_POLL) as other:
        other.submit("theirs", num_frames=5)
    with client_for(server) as mine:
        assert not mine.resume()


@pytest.mark.anyio
async def test_async_resume(make_server):
    server = make_server()
    async with async_client_for(server, autosave=False) as first:
        jobs = [await first.submit(f"job {i}", num_frames=5) for i in range(2)]
    async with async_client_for(server) as later:
        result = await later.resume()
    assert sorted(v.job.id for v in result.videos) == sorted(j.id for j in jobs)


# -- the slot limiter ---------------------------------------------------------------------
def test_a_sixth_generation_waits_for_a_slot_instead_of_failing(make_server):
    server = make_server(profile="fast", time_scale=0.05)
    waits: list[SlotWait] = []
    errors: list[BaseException] = []
    with client_for(server) as client:

        def one(i):
            try:
                client.generate(f"job {i}", num_frames=5, on_wait=waits.append)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(7)]
        for thread in threads:
            thread.start()
        for thread in threads:
            joined(thread, 120, "seven jobs to be generated")
    assert errors == []
    assert posts(server) == 7  # no 429 was ever answered: nobody submitted twice
    assert len(waits) >= 2 and all(w.reason == "local" for w in waits)
    assert server.stats.for_key(KEY)["jobs"].get("completed") == 7


def test_a_429_from_another_process_waits_and_submits_again(make_server):
    server = make_server(profile="realistic", time_scale=0.02)
    # Bare submissions hold no slot of this process: to the limiter they are jobs of
    # "another process" filling the server's five slots for the key.
    with client_for(server, autosave=False) as filler:
        for i in range(5):
            filler.submit(f"filler {i}", num_frames=1)
    waits: list[SlotWait] = []
    with client_for(server) as client:
        video = client.generate("patient", num_frames=1, on_wait=waits.append)
    assert video.path is not None
    assert waits and waits[0].reason == "server" and waits[0].retry_after
    assert posts(server) == 5 + 1 + len(waits)  # refused tries created nothing


# -- batches ----------------------------------------------------------------------------
def test_generate_many_returns_videos_in_order_and_goes_on_after_a_failure(make_server):
    server = make_server(renderer=FailFor("doomed"))
    items = ["one", {"prompt": "two", "num_frames": 9, "seed": 5}, "doomed three", "four"]
    with client_for(server) as client:
        result = client.generate_many(items, progress=False)
    assert isinstance(result, BatchResult) and len(result) == 4
    assert [v.prompt if v else None for v in result] == ["one", "two", None, "four"]
    assert result[1].seed == 5 and frames(result[1].path) == 9
    assert set(result.errors) == {2} and isinstance(result.errors[2], JobFailedError)
    assert "3 of 4 videos; 1 failed" in result.summary()
    assert posts(server) == 4
    with pytest.raises(JobFailedError):
        result.raise_for_errors()


def test_running_a_batch_again_submits_only_what_did_not_finish(make_server):
    server = make_server(renderer=FailFor("doomed"))
    items = ["one", "doomed", "three"]
    with client_for(server) as client:
        first = client.generate_many(items, progress=False)
        again = client.generate_many(items, progress=False)
    assert posts(server) == 4  # the failed item was tried again, the others not
    assert again[0].path == first[0].path and again[2].path == first[2].path
    assert again.errors.keys() == {1}


def test_a_batch_picks_up_jobs_submitted_before_an_interruption(make_server):
    from eco_widget._batch import BatchPlan
    from eco_widget._flows import submit_flow

    server = make_server()
    items = ["alpha", "beta"]
    with client_for(server, autosave=False) as first:
        plan = BatchPlan(items, account=first.account)
        # An earlier run got as far as submitting item 0, then its process died.
        job = first._drive(submit_flow(first._rt, plan.items[0], batch=(plan.key, 0)))
    with client_for(server) as client:
        result = client.generate_many(items, progress=False)
    assert result[0].job.id == job.id and result.ok
    assert posts(server) == 2


def test_path_template_names_the_files(make_server, tmp_path):
    server = make_server()
    template = str(tmp_path / "out" / "{index:02d}-{slug}-s{seed}.mp4")
    with client_for(server) as client:
        result = client.generate_many(
            [{"prompt": "Red balloon!", "seed": 3}, {"prompt": "sea", "seed": 4}],
            path_template=template,
            progress=False,
        )
    assert [v.path.name for v in result] == ["00-red-balloon-s3.mp4", "01-sea-s4.mp4"]


@pytest.mark.parametrize(
    ("items", "kwargs", "param"),
    [
        (["fine", {"prompt": "x", "num_frames": 0}], {}, "items[1].num_frames"),
        (["fine", {"promt": "typo"}], {}, "items[1].promt"),
        (["fine", 42], {}, "items[1]"),
        (["fine", {"num_frames": 5}], {}, "items[1].prompt"),
        ("a single string", {}, "items"),
        ([], {}, "items"),
        (["fine"], {"concurrency": 0}, "concurrency"),
        (["fine"], {"path_template": "{nope}.mp4"}, "path_template"),
        (["fine"], {"path_template": "same.mp4"}, "path_template"),
    ],
)
def test_bad_batches_are_refused_before_anything_is_sent(make_server, items, kwargs, param):
    server = make_server()
    with client_for(server) as client, pytest.raises(InvalidParameterError) as info:
        client.generate_many(items, progress=False, **kwargs)
    assert info.value.param == param
    assert posts(server) == 0


@pytest.mark.anyio
async def test_async_generate_many(make_server):
    server = make_server()
    async with async_client_for(server) as client:
        result = await client.generate_many([f"clip {i}" for i in range(7)], progress=False)
    assert result.ok and [v.prompt for v in result] == [f"clip {i}" for i in range(7)]
    assert posts(server) == 7
