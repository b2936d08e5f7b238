"""A submission is journaled before its request leaves: against the real local server,
a lost reply leaves a row that says so (with the parameters and seed), a refused one
leaves none, and writes after the job exists never end a wait."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import httpx
import pytest

from eco_widget import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    Client,
    JournalError,
    VideoWidget,
    jobs,
)
from eco_widget._async_client import _finish_in_thread
from eco_widget._journal import Journal
from eco_widget._journal_entry import SUBMITTING, UNKNOWN_OUTCOME
from eco_widget.cli import main
from eco_widget.server import FaultConfig
from tests.conftest import FAST_POLL, KEY
from tests.test_cli import free_port
from tests.waiting import DEADLINE, joined, within

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def home(monkeypatch, tmp_path):
    folder = tmp_path / "home"
    monkeypatch.setenv("ECOHASH_HOME", str(folder))
    return folder


def client_for(server_url: str, **kwargs) -> Client:
    return Client(api_key=KEY, base_url=server_url, poll_policy=FAST_POLL, **kwargs)


def rows() -> list:
    return list(Journal())


def test_the_row_is_written_before_the_request_leaves(make_server):
    server = make_server()
    seen: list[list] = []

    def on_request(request: httpx.Request) -> None:
        if request.method == "POST":
            seen.append([(e.status, e.prompt, e.seed) for e in rows()])

    http = httpx.Client(event_hooks={"request": [on_request]})
    with client_for(server.url, http_client=http) as client:
        job = client.submit("before the post", num_frames=1, seed=42)
    http.close()
    assert seen == [[(SUBMITTING, "before the post", 42)]]
    [entry] = rows()
    assert (entry.job_id, entry.status, entry.seed) == (job.id, "queued", 42)


def test_a_lost_reply_leaves_an_unknown_outcome_with_the_parameters_and_seed(make_server, capsys):
    server = make_server(faults=FaultConfig(post_drop_rate=1.0))
    with client_for(server.url) as client, pytest.raises(APIConnectionError):
        client.submit("a reply that never came", num_frames=3, fps=6, seed=77)
    assert server.stats.for_key(KEY)["requests"]["posts"] == 1  # billed once, not twice

    [entry] = rows()
    assert entry.status == SUBMITTING and entry.is_unknown
    assert (entry.prompt, entry.num_frames, entry.fps, entry.seed) == (
        "a reply that never came",
        3,
        6,
        77,
    )
    assert "may have been created" in (entry.error_message or "")
    table = repr(jobs())
    assert UNKNOWN_OUTCOME in table and "77" in table and "a reply that never came" in table
    assert "job ids are unknown" in table
    assert main(["jobs"]) == 0
    printed = capsys.readouterr().out
    assert UNKNOWN_OUTCOME in printed and "77" in printed
    # resume() cannot recover what has no id: it leaves the row alone.
    with client_for(server.url) as client:
        result = client.resume()
    assert not result.videos and not result.errors
    assert [e.status for e in rows()] == [SUBMITTING]


def test_refused_or_unsent_submissions_leave_no_row(make_server):
    server = make_server()
    with (
        Client(api_key="eco_wrong", base_url=server.url) as client,
        pytest.raises(AuthenticationError),
    ):
        client.submit("refused", num_frames=1)
    closed = f"http://127.0.0.1:{free_port()}"
    with client_for(closed, max_retries=0) as client, pytest.raises(APIConnectionError) as info:
        client.submit("never sent", num_frames=1)
    assert info.value.may_have_reached_server is False
    assert rows() == []


def test_a_submission_by_a_process_that_died_shows_an_unknown_outcome(home):
    code = (
        "import os\n"
        "from eco_widget._journal import Journal\n"
        "from eco_widget import VideoParams\n"
        "Journal().reserve(VideoParams.create('died mid-post', seed=9),"
        " base_url='https://api.test', account='abc')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
    [entry] = rows()
    assert entry.status == SUBMITTING and entry.error_message is None
    [record] = jobs().to_records()
    assert record["prompt"] == "died mid-post" and record["seed"] == 9
    assert UNKNOWN_OUTCOME in repr(jobs())


def test_a_submission_this_process_is_sending_is_not_called_unknown():
    Journal().reserve(
        __import__("eco_widget").VideoParams.create("in flight", seed=1),
        base_url="https://api.test",
        account="abc",
    )
    table = repr(jobs())
    assert "submitting" in table and UNKNOWN_OUTCOME not in table


def test_a_failed_write_after_submitting_never_ends_the_wait_and_is_tried_again(
    make_server, monkeypatch
):
    server = make_server()
    real = Journal.record_saved
    failures: list[str] = []

    def flaky(self, base_url, job_id, path):
        if not failures:
            failures.append(job_id)
            raise JournalError("the disk is busy", path=self.path)
        return real(self, base_url, job_id, path)

    monkeypatch.setattr(Journal, "record_saved", flaky)
    with client_for(server.url) as client:
        first = client.generate("saved, journaled later", num_frames=1)
        assert first.path is not None and first.path.exists()
        assert Journal().get(client._settings.origin, first.job.id).saved_path is None
        client.generate("the next write", num_frames=1)
        entry = Journal().get(client._settings.origin, first.job.id)
    assert failures == [first.job.id]
    assert entry.saved_path == str(first.path)  # the kept write went in before the next


def test_a_journal_that_cannot_take_the_first_row_sends_nothing(make_server, home):
    server = make_server()
    home.mkdir(parents=True)
    (home / "journal.sqlite3").write_bytes(b"this is not a database" * 100)
    with client_for(server.url) as client, pytest.raises(JournalError):
        client.generate("never billed", num_frames=1)
    assert server.stats.for_key(KEY)["requests"]["posts"] == 0


# -- the async shell: off the loop, and on any loop -------------------------------------
def test_a_reservation_cancelled_meanwhile_is_undone():
    started, release = threading.Event(), threading.Event()
    undone: list[str] = []

    def write() -> str:
        started.set()
        release.wait(10)
        return "reservation-1"

    async def main_() -> None:
        task = asyncio.ensure_future(_finish_in_thread(write, undone.append))
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        await asyncio.sleep(0)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main_())
    assert undone == ["reservation-1"]


def test_one_async_client_serves_loop_after_loop_and_threads(make_server):
    server = make_server()
    client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)

    async def one(prompt: str) -> str:
        return (await client.generate(prompt, num_frames=1)).job.id

    ids = [asyncio.run(one("first loop")), asyncio.run(one("second loop"))]
    results: list[str] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(asyncio.run(one(f"thread {i}"))), daemon=True
        )
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        joined(thread, 60, "a thread's submission")
    assert len(set(ids + results)) == 4
    assert server.stats.for_key(KEY)["requests"]["posts"] == 4


def test_an_http_client_passed_in_is_refused_on_another_loop_before_sending(make_server):
    server = make_server()
    http = httpx.AsyncClient()
    client = AsyncClient(api_key=KEY, base_url=server.url, http_client=http, poll_policy=FAST_POLL)
    done: list[str] = []

    async def first() -> None:
        done.append((await client.submit("mine", num_frames=1)).id)
        other = threading.Thread(target=lambda: done.append(second()))
        other.start()
        await asyncio.to_thread(other.join, 30)

    def second() -> str:
        async def go() -> str:
            try:
                await client.submit("from elsewhere", num_frames=1)
            except RuntimeError as exc:
                return str(exc)
            return "sent"

        return asyncio.run(go())

    asyncio.run(first())
    assert "another one" in done[1] and "Nothing was sent" in done[1]
    assert server.stats.for_key(KEY)["requests"]["posts"] == 1
    assert len(rows()) == 1


def test_a_locked_journal_never_stalls_the_event_loop(make_server, home):
    server = make_server()
    client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)
    Journal().check()  # the file exists
    locked, unlock = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        import sqlite3

        conn = sqlite3.connect(home / "journal.sqlite3", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        unlock.wait(30)
        conn.execute("COMMIT")
        conn.close()

    async def main_() -> tuple[float, str]:
        holder = threading.Thread(target=hold_the_write_lock)
        holder.start()
        await asyncio.to_thread(locked.wait, 10)
        loop = asyncio.get_running_loop()
        worst = 0.0
        job = asyncio.ensure_future(client.generate("behind a lock", num_frames=1))
        # The job's first write waits for the lock; the loop must keep turning.
        for _ in range(40):
            began = loop.time()
            await asyncio.sleep(0.025)
            worst = max(worst, loop.time() - began - 0.025)
        assert not job.done()  # its journal row is still waiting for the lock
        unlock.set()
        video = await job
        await asyncio.to_thread(holder.join, 10)
        return worst, video.job.id

    worst, job_id = asyncio.run(main_())
    assert worst < 0.5, f"the loop stalled {worst:.3f} s"
    assert Journal().get(client._settings.origin, job_id) is not None


def test_stopping_a_run_while_its_submission_is_out_says_the_job_may_exist(make_server):
    server = make_server()
    out, go_on = asyncio.Event(), asyncio.Event()

    async def hold_the_post(request: httpx.Request) -> None:
        if request.method == "POST":
            out.set()
            await go_on.wait()

    async def main_() -> dict:
        http = httpx.AsyncClient(event_hooks={"request": [hold_the_post]})
        client = AsyncClient(api_key=KEY, base_url=server.url, http_client=http)
        w = VideoWidget(client=client, prompt="stopped mid-post", num_frames=1, seed=5)
        w.generate()
        await asyncio.wait_for(out.wait(), 10)
        w.stop()
        with pytest.raises(asyncio.CancelledError):
            await within(w, DEADLINE, "the widget's run")
        await http.aclose()
        return w.runs[0]

    run = asyncio.run(main_())
    assert run["phase"] == "stopped"
    assert "may have been created" in run["note"] and "nothing was billed" not in run["note"]
    [entry] = rows()
    assert entry.status == SUBMITTING and entry.seed == 5


def test_stopping_a_run_before_its_submission_says_nothing_was_billed(make_server):
    server = make_server()

    async def main_() -> dict:
        client = AsyncClient(api_key=KEY, base_url=server.url)
        w = VideoWidget(client=client, prompt="stopped at once", num_frames=1)
        w.generate()
        w.stop()
        with pytest.raises(asyncio.CancelledError):
            await within(w, DEADLINE, "the widget's run")
        return w.runs[0]

    run = asyncio.run(main_())
    assert run["phase"] == "stopped" and "nothing was billed" in run["note"]
    assert server.stats.for_key(KEY)["requests"]["posts"] == 0
    assert rows() == []
