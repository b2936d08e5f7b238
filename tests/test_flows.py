"""The client's flows stepped by hand: every request, sleep and callback is seen and
answered by the test, on a fake clock. No sockets, no sleeping."""

from __future__ import annotations

import json
from email.utils import formatdate

import httpx
import pytest

from eco_widget import (
    APIConnectionError,
    AuthenticationError,
    InvalidParameterError,
    InvalidRequestError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    RateLimitError,
    ServerError,
    VideoExpiredError,
    VideoParams,
)
from eco_widget._flows import download_flow, get_flow, submit_flow, wait_flow
from eco_widget._lifecycle import generate_flow
from eco_widget._models import Job
from eco_widget._protocol import CloseSink, Notify, Send, Sleep, Stream
from eco_widget._sinks import FileSink, MemorySink
from tests.stepper import BASE, FakeClock, Stepper, job_payload, response, runtime

PARAMS = VideoParams.create("a red balloon", seed=7)
VIDEO = (b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)[:10_240]  # an MP4 head
URL = "https://videos.test/vid_1.mp4?expires=1&signature=abc"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def completed(job_id: str = "vid_1", url: str = URL) -> dict:
    return job_payload(
        job_id, "completed", video_url=url, duration_seconds=2.0625, completed_at=1_776_391_300
    )


# -- submit -------------------------------------------------------------------------------
def test_submit_sends_the_contract_body_with_a_drawn_seed(clock):
    params = VideoParams.create("a red balloon")
    assert params.seed is None
    s = Stepper(submit_flow(runtime(clock), params), clock)
    request = s.step.request
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/v1/video/generations"
    assert request.headers["authorization"] == "Bearer eco_secret_key"
    body = json.loads(request.content)
    assert body["model"] == "wan21-t2v-1-3b"
    assert body["prompt"] == "a red balloon"
    assert isinstance(body["seed"], int) and 0 <= body["seed"] < 2**32
    s.reply(response(request, 200, job_payload()))
    assert s.done
    assert s.result.status == "queued"
    assert s.result.seed == body["seed"]


def test_submit_is_retried_when_the_connection_could_not_be_opened(clock):
    s = Stepper(submit_flow(runtime(clock), PARAMS), clock)
    s.fail(httpx.ConnectError("refused", request=s.step.request))
    assert isinstance(s.step, Sleep)
    s.sleep()
    s.fail(httpx.ConnectTimeout("timed out", request=s.step.request))
    s.sleep()
    s.reply(response(s.step.request, 200, job_payload()))
    assert s.done and len(s.sent) == 3
    # the same seed is sent every time: it is drawn once
    assert len({json.loads(r.content)["seed"] for r in s.sent}) == 1


@pytest.mark.parametrize(
    "error",
    [httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteError],
)
def test_submit_is_never_sent_twice_once_it_may_have_reached_the_server(clock, error):
    s = Stepper(submit_flow(runtime(clock), PARAMS), clock)
    with pytest.raises(APIConnectionError) as info:
        s.fail(error("broken", request=s.step.request))
    assert info.value.may_have_reached_server is True
    assert len(s.sent) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_submit_is_not_retried_on_server_errors(clock, status):
    s = Stepper(submit_flow(runtime(clock), PARAMS), clock)
    with pytest.raises(ServerError):
        s.reply(
            response(s.step.request, status, {"error": {"type": "server_error", "message": "x"}})
        )
    assert len(s.sent) == 1


def test_submit_errors_carry_the_contract_body(clock):
    s = Stepper(submit_flow(runtime(clock), PARAMS), clock)
    body = {"error": {"type": "invalid_request_error", "message": "fps must be…", "param": "fps"}}
    with pytest.raises(InvalidRequestError) as info:
        s.reply(response(s.step.request, 400, body, headers={"x-request-id": "req_9"}))
    error = info.value
    assert (error.status_code, error.type, error.param, error.request_id) == (
        400,
        "invalid_request_error",
        "fps",
        "req_9",
    )
    assert "fps must be" in str(error)


def test_submit_rate_limited_reports_retry_after(clock):
    s = Stepper(submit_flow(runtime(clock), PARAMS), clock)
    with pytest.raises(RateLimitError) as info:
        s.reply(
            response(
                s.step.request,
                429,
                {"error": {"type": "rate_limit_error", "message": "5 jobs"}},
                headers={"retry-after": "12"},
            )
        )
    assert info.value.retry_after == 12
    assert len(s.sent) == 1


# -- get ----------------------------------------------------------------------------------
def test_get_retries_5xx_and_dropped_connections_then_succeeds(clock):
    s = Stepper(get_flow(runtime(clock), "vid_1"), clock)
    assert s.step.request.url.path == "/v1/video/generations/vid_1"
    s.reply(response(s.step.request, 503))
    s.sleep()
    s.fail(httpx.RemoteProtocolError("dropped", request=s.step.request))
    s.sleep()
    s.reply(response(s.step.request, 200, job_payload(status="processing", progress=0.5)))
    assert s.done and s.result.progress == 0.5
    assert len(s.sent) == 3
    assert s.sleeps[1] > s.sleeps[0]  # exponential backoff


def test_get_honours_retry_after_seconds_and_dates(clock):
    s = Stepper(get_flow(runtime(clock), "vid_1"), clock)
    s.reply(response(s.step.request, 429, headers={"retry-after": "7"}))
    assert s.step.seconds == 7
    s.sleep()
    s.reply(
        response(
            s.step.request, 503, headers={"retry-after": formatdate(clock.wall() + 20, usegmt=True)}
        )
    )
    assert 19 <= s.step.seconds <= 21
    s.sleep()
    s.reply(response(s.step.request, 200, job_payload()))
    assert s.done


def test_get_gives_up_after_the_configured_attempts(clock):
    s = Stepper(get_flow(runtime(clock, attempts=3), "vid_1"), clock)
    s.reply(response(s.step.request, 500))
    s.sleep()
    s.reply(response(s.step.request, 502))
    s.sleep()
    with pytest.raises(ServerError) as info:
        s.reply(response(s.step.request, 504))
    assert info.value.status_code == 504
    assert len(s.sent) == 3


@pytest.mark.parametrize(("status", "error"), [(404, NotFoundError), (401, AuthenticationError)])
def test_get_does_not_retry_client_errors(clock, status, error):
    s = Stepper(get_flow(runtime(clock), "vid_1"), clock)
    with pytest.raises(error):
        s.reply(response(s.step.request, status, {"error": {"type": "x", "message": "no"}}))
    assert len(s.sent) == 1


def test_bad_job_ids_are_refused_before_any_request(clock):
    with pytest.raises(InvalidParameterError) as info:
        Stepper(get_flow(runtime(clock), "  "), clock)
    assert info.value.param == "job_id"


def test_job_ids_are_quoted_into_the_path(clock):
    s = Stepper(get_flow(runtime(clock), "vid/../x"), clock)
    assert s.step.request.url.raw_path == b"/v1/video/generations/vid%2F..%2Fx"


# -- wait ---------------------------------------------------------------------------------
def _job(status: str = "queued", **extra) -> Job:
    return Job.from_payload(job_payload(status=status, **extra), params=PARAMS)


def test_wait_reports_each_new_snapshot_and_returns_the_terminal_one(clock):
    seen = []
    s = Stepper(wait_flow(runtime(clock), _job(), timeout=600, on_update=seen.append), clock)
    s.sleep()
    s.reply(response(s.step.request, 200, job_payload(status="queued")))
    s.sleep()  # no change: no notification
    s.reply(response(s.step.request, 200, job_payload(status="processing", progress=0.1)))
    assert isinstance(s.step, Notify)
    s.notify()
    s.sleep()
    s.reply(response(s.step.request, 200, completed()))
    s.notify()
    assert s.done
    assert [j.status for j in s.notified] == ["processing", "completed"]
    assert s.result.video_url == URL
    assert s.result.params == PARAMS  # the parameters sent are kept on every snapshot


def test_wait_deadline_raises_with_the_last_snapshot(clock):
    s = Stepper(wait_flow(runtime(clock), _job(), timeout=30), clock)
    start = clock()
    with pytest.raises(JobTimeoutError) as info:
        s.run(
            lambda request: response(request, 200, job_payload(status="processing", progress=0.2))
        )
    assert info.value.job.status == "processing"
    assert info.value.job.id == "vid_1"
    assert clock() - start == pytest.approx(30)
    assert "client.wait('vid_1')" in str(info.value)


def test_wait_an_unknown_status_is_not_terminal_and_the_deadline_holds(clock):
    s = Stepper(wait_flow(runtime(clock), _job(), timeout=100), clock)
    with pytest.raises(JobTimeoutError) as info:
        s.run(lambda request: response(request, 200, job_payload(status="paused", extra="x")))
    assert info.value.job.status == "paused"


def test_wait_rides_out_transient_failures_until_the_deadline(clock):
    s = Stepper(wait_flow(runtime(clock, attempts=2), _job(), timeout=120), clock)
    s.sleep()
    s.reply(response(s.step.request, 503))
    s.sleep()  # backoff
    s.reply(response(s.step.request, 503))  # retries exhausted: the wait goes on
    assert isinstance(s.step, Sleep)
    s.sleep()
    s.reply(response(s.step.request, 200, completed()))
    assert s.done and s.result.is_completed


def test_wait_times_out_chained_to_the_last_failure(clock):
    s = Stepper(wait_flow(runtime(clock, attempts=1), _job(), timeout=20), clock)
    with pytest.raises(JobTimeoutError) as info:
        s.run(lambda request: httpx.ConnectError("down", request=request))
    assert isinstance(info.value.__cause__, APIConnectionError)


def test_wait_stops_at_once_on_errors_that_waiting_cannot_mend(clock):
    s = Stepper(wait_flow(runtime(clock), _job(), timeout=600), clock)
    s.sleep()
    with pytest.raises(NotFoundError):
        s.reply(
            response(s.step.request, 404, {"error": {"type": "not_found_error", "message": "x"}})
        )


def test_wait_honours_retry_after_on_a_successful_read(clock):
    s = Stepper(wait_flow(runtime(clock), _job(), timeout=600), clock)
    s.sleep()
    s.reply(response(s.step.request, 200, job_payload(), headers={"retry-after": "25"}))
    assert s.step.seconds >= 25


def test_wait_refuses_a_non_positive_timeout(clock):
    with pytest.raises(InvalidParameterError):
        Stepper(wait_flow(runtime(clock), _job(), timeout=0), clock)


def test_wait_on_a_terminal_job_sends_nothing(clock):
    s = Stepper(
        wait_flow(runtime(clock), _job("failed", error={"type": "e", "message": "m"}), timeout=5),
        clock,
    )
    assert s.done and s.sent == []


# -- download -----------------------------------------------------------------------------
def _done() -> Job:
    return Job.from_payload(completed(), params=PARAMS)


def test_download_sends_no_key_to_the_video_url(clock):
    s = Stepper(download_flow(runtime(clock), _done(), lambda job: MemorySink()), clock)
    request = s.step.request
    assert str(request.url) == URL
    assert "authorization" not in request.headers
    s.stream(response(request, 200, content=VIDEO, headers={"content-length": str(len(VIDEO))}))
    assert s.done
    job, data = s.result
    assert data == VIDEO and job.id == "vid_1"


def test_download_resumes_a_cut_body_with_a_range_request(clock):
    s = Stepper(download_flow(runtime(clock), _done(), lambda job: MemorySink()), clock)
    s.stream(
        response(s.step.request, 200, headers={"content-length": str(len(VIDEO))}),
        body=VIDEO,
        cut_after=4000,
    )
    s.sleep()
    assert s.step.request.headers["range"] == "bytes=4000-"
    rest = VIDEO[4000:]
    s.stream(
        response(
            s.step.request,
            206,
            content=rest,
            headers={"content-range": f"bytes 4000-{len(VIDEO) - 1}/{len(VIDEO)}"},
        )
    )
    assert s.done and s.result[1] == VIDEO


def test_download_starts_over_when_the_server_ignores_the_range(clock):
    s = Stepper(download_flow(runtime(clock), _done(), lambda job: MemorySink()), clock)
    s.stream(
        response(s.step.request, 200, headers={"content-length": str(len(VIDEO))}),
        body=VIDEO,
        cut_after=100,
    )
    s.sleep()
    s.stream(
        response(s.step.request, 200, content=VIDEO, headers={"content-length": str(len(VIDEO))})
    )
    assert s.done and s.result[1] == VIDEO


def test_download_refreshes_an_expired_url_once_then_reports_expiry(clock):
    s = Stepper(download_flow(runtime(clock), _done(), lambda job: MemorySink()), clock)
    s.stream(response(s.step.request, 410, {"error": {"type": "x", "message": "URL expired"}}))
    assert isinstance(s.step, Send)  # asks the API for a fresh URL
    with pytest.raises(VideoExpiredError) as info:
        s.reply(response(s.step.request, 200, completed()))  # same URL: no newer one
    assert "expired" in str(info.value)
    assert len(s.sent) == 2  # not looped on


def test_download_follows_a_refreshed_url(clock):
    s = Stepper(download_flow(runtime(clock), _done(), lambda job: MemorySink()), clock)
    s.stream(response(s.step.request, 403, {"error": {"type": "x", "message": "denied"}}))
    fresh = URL.replace("signature=abc", "signature=def")
    s.reply(response(s.step.request, 200, completed(url=fresh)))
    assert str(s.step.request.url) == fresh
    s.stream(response(s.step.request, 200, content=VIDEO))
    assert s.done and s.result[0].video_url == fresh


def test_download_of_an_unfinished_job_is_refused_before_any_request(clock):
    with pytest.raises(InvalidParameterError, match="wait for it"):
        Stepper(download_flow(runtime(clock), _job("processing"), lambda job: MemorySink()), clock)
    with pytest.raises(JobFailedError):
        Stepper(download_flow(runtime(clock), _job("failed"), lambda job: MemorySink()), clock)


def test_file_download_never_leaves_a_partial_file(clock, tmp_path):
    target = tmp_path / "out.mp4"
    s = Stepper(
        download_flow(runtime(clock, attempts=2), _done(), lambda job: FileSink(target)), clock
    )
    s.stream(
        response(s.step.request, 200, headers={"content-length": str(len(VIDEO))}),
        body=VIDEO,
        cut_after=10,
    )
    assert not target.exists()
    s.sleep()
    with pytest.raises(APIConnectionError):
        s.fail(httpx.ReadError("gone", request=s.step.request))
    assert list(tmp_path.iterdir()) == []  # no target, no temporary file


def test_file_download_moves_the_file_into_place(clock, tmp_path):
    target = tmp_path / "sub" / "out.mp4"
    s = Stepper(download_flow(runtime(clock), _done(), lambda job: FileSink(target)), clock)
    assert isinstance(s.step, Stream)
    s.stream(response(s.step.request, 200, content=VIDEO))
    assert s.result[1] == target and target.read_bytes() == VIDEO
    assert [p.name for p in target.parent.iterdir()] == ["out.mp4"]


def test_an_interrupt_during_a_download_stays_an_interrupt(clock, tmp_path):
    """InterruptedError (a batch's Ctrl-C ending a retry's sleep) is an OSError, but not
    a disk that failed: it is not reported as a video that could not be saved."""
    target = tmp_path / "out.mp4"
    s = Stepper(download_flow(runtime(clock), _done(), lambda job: FileSink(target)), clock)
    s.stream(response(s.step.request, 503, content=b""))
    assert isinstance(s.step, Sleep)
    discard = s.flow.throw(InterruptedError("stopped"))
    assert isinstance(discard, CloseSink)
    assert not discard.keep  # the partial file goes, as a step the shell performs
    with pytest.raises(InterruptedError):
        s.flow.send(discard.sink.discard())
    assert list(tmp_path.iterdir()) == []


# -- generate ----------------------------------------------------------------------------
def test_generate_submits_waits_and_downloads(clock):
    s = Stepper(
        generate_flow(
            runtime(clock),
            PARAMS,
            lambda job: MemorySink(),
            timeout=600,
            on_update=lambda job: None,
        ),
        clock,
    )
    s.reply(response(s.step.request, 200, job_payload()))
    s.notify()  # the submitted job, so callers learn its id at once
    s.sleep()
    s.reply(response(s.step.request, 200, completed()))
    s.notify()
    s.stream(response(s.step.request, 200, content=VIDEO))
    assert s.done
    job, data = s.result
    assert data == VIDEO and job.seed == 7
    assert [j.status for j in s.notified] == ["queued", "completed"]


def test_generate_raises_job_failed(clock):
    s = Stepper(generate_flow(runtime(clock), PARAMS, lambda job: MemorySink(), timeout=600), clock)
    s.reply(response(s.step.request, 200, job_payload()))
    s.sleep()
    with pytest.raises(JobFailedError, match="out of memory"):
        s.reply(
            response(
                s.step.request,
                200,
                job_payload(
                    status="failed", error={"type": "generation_error", "message": "out of memory"}
                ),
            )
        )
