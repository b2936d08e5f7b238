"""The flows' journal writes, slot waits and recovery decisions, stepped by hand."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from eco_widget import (
    APIConnectionError,
    AuthenticationError,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    RateLimitError,
    ServerError,
    VideoExpiredError,
    VideoParams,
)
from eco_widget._flows import submit_flow, wait_flow
from eco_widget._journal import EXPIRED, LOST, JournalEntry
from eco_widget._lifecycle import fetch_flow, generate_flow
from eco_widget._models import Job
from eco_widget._protocol import (
    Acquire,
    Blocking,
    Lookup,
    Notify,
    Record,
    Reserve,
    Send,
    Sleep,
    Unreserve,
)
from eco_widget._sinks import FileSink, MemorySink
from eco_widget._slots import SlotLimiter, SlotWait
from tests.stepper import FakeClock, Stepper, job_payload, response, runtime

URL = "https://cdn.test/v.mp4?sig=1"
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def entry(job_id="vid_1", status="completed", **extra) -> JournalEntry:
    fields = dict(
        base_url="https://api.test",
        job_id=job_id,
        account="abc",
        prompt="a red balloon",
        num_frames=17,
        fps=16,
        num_inference_steps=50,
        guidance_scale=5.0,
        seed=7,
        status=status,
        progress=None,
        submitted_at=1.0,
        updated_at=1.0,
        created=1.0,
        completed_at=None,
        expires_at=None,
        saved_path=None,
        saved_size=None,
        error_type=None,
        error_message=None,
        batch=None,
        batch_index=None,
    )
    fields.update(extra)
    return JournalEntry(**fields)


def test_a_submission_is_journaled_before_it_is_sent_and_completed_by_its_reply(clock):
    params = VideoParams.create("a red balloon")
    s = Stepper(submit_flow(runtime(clock), params, batch=("batch_x", 3)), clock)
    assert [type(step) for step in s.log] == [Reserve, Send]  # the row first
    reserve = s.log[0]
    sent_seed = json.loads(s.sent[0].content)["seed"]
    assert reserve.params.seed == sent_seed and reserve.batch == ("batch_x", 3)
    s.reply(response(s.step.request, 200, job_payload()))
    assert s.done
    assert [type(step) for step in s.log] == [Reserve, Send, Record]
    record = s.log[2]
    assert record.job.id == "vid_1" and record.batch == ("batch_x", 3)
    assert record.reservation == "reservation-1"  # the row becomes the job's
    assert record.job.seed == sent_seed  # the drawn seed is what is kept


def test_a_429_waits_per_retry_after_and_submits_again(clock):
    params = VideoParams.create("a red balloon", seed=1)
    waits: list[SlotWait] = []
    s = Stepper(submit_flow(runtime(clock), params, timeout=60, on_wait=waits.append), clock)
    s.reply(response(s.step.request, 429, {"error": {}}, headers={"Retry-After": "7"}))
    assert isinstance(s.step, Notify) and s.step.value.reason == "server"
    assert s.step.value.retry_after == 7
    s.notify()
    assert isinstance(s.step, Sleep) and s.step.seconds == 7
    s.sleep()
    assert s.step.request.method == "POST"
    s.reply(response(s.step.request, 200, job_payload()))
    assert s.done and len(s.sent) == 2
    assert [r.job.id for r in s.recorded] == ["vid_1"]
    # The refused try's row went; the second try has a row of its own.
    assert [type(step) for step in s.reserved] == [Reserve, Unreserve, Reserve]
    assert s.reserved[1] == Unreserve("reservation-1", None)
    assert s.recorded[0].reservation == "reservation-3"


def test_a_429_past_the_timeout_or_without_one_is_raised(clock):
    params = VideoParams.create("a red balloon", seed=1)
    for timeout in (None, 5):
        s = Stepper(submit_flow(runtime(clock), params, timeout=timeout), clock)
        with pytest.raises(RateLimitError):
            s.reply(response(s.step.request, 429, {}, headers={"Retry-After": "7"}))
        assert s.recorded == []
        assert s.reserved[-1] == Unreserve("reservation-1", None)  # nothing was created


@pytest.mark.parametrize(
    ("answer", "error", "unknown"),
    [
        (400, InvalidRequestError, False),
        (401, AuthenticationError, False),
        (503, ServerError, True),
        (httpx.ConnectError("refused"), APIConnectionError, False),
        (httpx.ReadError("cut"), APIConnectionError, True),
        (httpx.ReadTimeout("slow"), APIConnectionError, True),
    ],
)
def test_a_failed_submission_keeps_its_row_only_when_a_job_may_exist(clock, answer, error, unknown):
    params = VideoParams.create("a red balloon", seed=1)
    rt = runtime(clock, attempts=1)
    s = Stepper(submit_flow(rt, params), clock)
    if isinstance(answer, int):
        with pytest.raises(error):
            s.reply(response(s.step.request, answer, {"error": {"message": "no"}}))
    else:
        with pytest.raises(error):
            s.fail(answer)
    last = s.reserved[-1]
    assert isinstance(last, Unreserve) and last.reservation == "reservation-1"
    if unknown:
        assert last.unknown is not None and "may have been created" in last.unknown
    else:
        assert last.unknown is None
    assert s.recorded == []


def test_an_interrupt_while_the_submission_is_out_leaves_its_row(clock):
    params = VideoParams.create("a red balloon", seed=1)
    s = Stepper(submit_flow(runtime(clock), params, on_sending=print), clock)
    assert isinstance(s.step, Notify) and s.step.value == params  # told before it goes
    s.notify()
    assert isinstance(s.step, Send)
    with pytest.raises(KeyboardInterrupt):
        s.flow.throw(KeyboardInterrupt())
    assert [type(step) for step in s.reserved] == [Reserve]  # "submitting": unknown


def test_wait_journals_each_new_status_not_each_progress_tick(clock):
    job = Job("vid_1", "queued", params=VideoParams.create("x", seed=1))
    s = Stepper(wait_flow(runtime(clock), job, timeout=600), clock)
    snapshots = iter(
        [
            job_payload(status="processing", progress=0.1),
            job_payload(status="processing", progress=0.5),
            job_payload(status="processing", progress=0.9),
            job_payload(status="completed", video_url="https://cdn.test/v.mp4"),
        ]
    )
    s.run(lambda request: response(request, 200, next(snapshots)))
    assert [r.job.status for r in s.recorded] == ["processing", "completed"]
    assert s.recorded[-1].job.seed == 1


def test_a_saved_download_is_journaled_with_its_path(clock, tmp_path):
    job = Job("vid_1", "completed", video_url=URL)
    target = tmp_path / "v.mp4"
    s = Stepper(fetch_flow(runtime(clock), job, lambda job: FileSink(target), wait=False), clock)
    # The job is read once (its URL may have been refreshed), then the video.
    s.reply(response(s.step.request, 200, job_payload(status="completed", video_url=URL)))
    s.stream(response(s.step.request, 200, content=MP4))
    assert s.done and s.result[1] == target
    assert s.recorded[-1].saved == target and target.read_bytes() == MP4


def test_a_video_the_journal_saved_is_returned_without_a_request(clock, tmp_path):
    saved = tmp_path / "kept.mp4"
    saved.write_bytes(MP4)
    s = Stepper(
        fetch_flow(runtime(clock), "vid_1", lambda job: MemorySink(), wait=True),
        clock,
        journal={"vid_1": entry(saved_path=str(saved), saved_size=len(MP4))},
    )
    assert s.done and s.sent == []
    job, path = s.result
    assert path == saved and job.seed == 7


def test_an_expired_job_is_reported_at_once_and_marked(clock):
    expired = entry(expires_at=clock.wall() - 1)
    records: list[Record] = []
    flow = fetch_flow(runtime(clock), "vid_1", lambda job: MemorySink(), wait=True)
    assert isinstance(next(flow), Lookup)
    step = flow.send(expired)
    assert isinstance(step, Blocking)  # is its file saved? (a stat, off the loop)
    step = flow.send(step.function())
    assert isinstance(step, Record) and step.outcome[0] == EXPIRED
    records.append(step)
    with pytest.raises(VideoExpiredError) as info:
        flow.send(None)  # the next step would be a request: there is none
    assert "expired" in str(info.value) and "vid_1" in str(info.value)


def test_an_expired_url_met_while_downloading_is_marked_expired(clock):
    job = Job("vid_1", "completed", video_url=URL)
    s = Stepper(fetch_flow(runtime(clock), job, lambda job: MemorySink(), wait=False), clock)
    s.reply(response(s.step.request, 200, job_payload(status="completed", video_url=URL)))
    s.stream(response(s.step.request, 410, {"error": {"message": "expired"}}))
    with pytest.raises(VideoExpiredError):  # the job has no newer URL
        s.reply(response(s.step.request, 200, job_payload(status="completed", video_url=URL)))
    assert s.recorded[-1].outcome[0] == EXPIRED


def test_a_job_the_server_no_longer_knows_is_marked_lost(clock):
    s = Stepper(
        fetch_flow(runtime(clock), "vid_1", lambda job: MemorySink(), wait=True),
        clock,
        journal={"vid_1": entry(status="queued")},
    )
    with pytest.raises(NotFoundError):
        s.reply(response(s.step.request, 404, {"error": {"message": "no such job"}}))
    assert s.recorded[-1].outcome[0] == LOST


def test_generate_waits_for_a_local_slot_and_always_gives_it_back(clock):
    limiter = SlotLimiter(1)
    held = limiter.try_acquire()
    waits: list[SlotWait] = []
    params = VideoParams.create("x", seed=1)
    flow = generate_flow(
        runtime(clock),
        params,
        lambda job: MemorySink(),
        timeout=600,
        on_wait=waits.append,
        limiter=limiter,
    )
    s = Stepper(flow, clock)
    assert isinstance(s.step, Notify) and s.step.value.reason == "local"
    assert s.step.value.active == 1 and s.sent == []  # nothing sent while waiting
    held.release()
    s.notify()  # the Acquire that follows is answered with the freed slot
    assert any(isinstance(step, Acquire) for step in s.log)
    assert s.step.request.method == "POST"
    assert limiter.active == 1
    with pytest.raises(JobFailedError):
        s.reply(response(s.step.request, 200, job_payload(status="failed", error="no")))
    assert limiter.active == 0  # released although the job failed


def test_replace_keeps_params_frozen():
    params = VideoParams.create("x")
    assert replace(params, seed=3).seed == 3 and params.seed is None
