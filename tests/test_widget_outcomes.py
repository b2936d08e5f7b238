"""How a widget run ends when its task meets an exception it did not expect (a bug, a
broken disk): the run shows it as failed, in plain words; it never claims to have been
stopped, nor that nothing was billed (a job may well have been submitted)."""

from __future__ import annotations

import pytest

from eco_widget import AsyncClient, VideoWidget
from eco_widget._flows import submit_flow
from eco_widget._protocol import Sleep
from tests.conftest import FAST_POLL, KEY
from tests.waiting import DEADLINE, within

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))


def broken_widget(server, monkeypatch, error: BaseException, *, submit_first: bool):
    """A widget whose client's generation flow raises ``error`` — at once, or after
    submitting the job (for real) and reporting its first snapshot."""
    client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)

    def generate(params, path, timeout, on_update, on_wait, batch=None, on_sending=None):
        yield Sleep(0)  # the task has started
        if submit_first:
            job = yield from submit_flow(client._rt, params, on_sending=on_sending)
            on_update(job)
        raise error

    monkeypatch.setattr(client, "_generate_params", generate)
    return VideoWidget(client=client, prompt="a red balloon", num_frames=3)


def assert_failed_not_stopped(run: dict, message: str) -> None:
    assert run["phase"] == "failed", run
    assert run["active"] is False
    assert run["error"] is not None
    assert message in run["error"]["message"]
    assert run["video"] is None
    said = f"{run['phase_label']} {run['note'] or ''}"
    assert "Stopped" not in said and "nothing was billed" not in said, run


async def test_an_unexpected_exception_before_submitting_shows_a_failed_run(
    make_server, monkeypatch
):
    server = make_server()
    w = broken_widget(server, monkeypatch, RuntimeError("the client broke"), submit_first=False)
    w.generate()
    with pytest.raises(RuntimeError, match="the client broke"):
        await within(w, DEADLINE, "the widget's video")
    [run] = w.runs
    assert_failed_not_stopped(run, "the client broke")
    assert w.status == "failed"
    assert w.video is None


async def test_an_unexpected_exception_after_submitting_keeps_the_job_id(make_server, monkeypatch):
    server = make_server()
    w = broken_widget(server, monkeypatch, RuntimeError("the disk vanished"), submit_first=True)
    w.generate()
    with pytest.raises(RuntimeError, match="the disk vanished"):
        await within(w, DEADLINE, "the widget's video")
    [run] = w.runs
    assert_failed_not_stopped(run, "the disk vanished")
    assert run["job_id"] is not None and run["job_id"].startswith("vid_")
    assert server.stats.totals()["requests"]["posts"] == 1


def test_an_unexpected_exception_fails_the_run_for_wait_too(make_server, monkeypatch):
    server = make_server()
    w = broken_widget(server, monkeypatch, ValueError("a bug in a callback"), submit_first=False)
    w.generate()
    with pytest.raises(ValueError, match="a bug in a callback"):
        w.wait(timeout=30)
    [run] = w.runs
    assert_failed_not_stopped(run, "a bug in a callback")
