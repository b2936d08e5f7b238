"""Drive a flow by hand: look at each step it yields and answer it, with a fake clock."""

from __future__ import annotations

import json
from typing import Any

import httpx

from eco_widget._flows import Runtime
from eco_widget._polling import PollPolicy, TimingModel
from eco_widget._protocol import (
    Acquire,
    Blocking,
    CheckTarget,
    CloseSink,
    Endpoint,
    Lookup,
    Notify,
    OpenSink,
    Record,
    Reserve,
    ResetSink,
    Send,
    Sleep,
    Stream,
    Unreserve,
)
from eco_widget._retry import RetryPolicy

BASE = "https://api.test"


class FakeClock:
    """A monotonic clock and a wall clock that move only when told."""

    def __init__(self, start: float = 1000.0, wall: float = 1_776_391_234.0):
        self.now = start
        self.wall_offset = wall - start

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset

    def advance(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def runtime(clock: FakeClock, *, policy: PollPolicy | None = None, attempts: int = 5) -> Runtime:
    return Runtime(
        endpoint=Endpoint(BASE, "eco_secret_key"),
        retry=RetryPolicy(max_attempts=attempts, random=lambda: 0.0),
        timing=TimingModel(policy or PollPolicy()),
        clock=clock,
        wall=clock.wall,
    )


def response(
    request: httpx.Request,
    status: int = 200,
    payload: Any = None,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    if content is None and payload is not None:
        content = json.dumps(payload).encode()
    return httpx.Response(status, headers=headers or {}, content=content or b"", request=request)


def job_payload(job_id: str = "vid_1", status: str = "queued", **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "object": "video.job",
        "status": status,
        "created": 1_776_391_234,
        **extra,
    }


class Stepper:
    """Holds a flow and its fake clock; every answer returns the next step (or, once the
    flow ends, sets ``result``).

    The flows' ``target`` is, in these tests, a function making the sink of a job
    (``lambda job: MemorySink()``): an :class:`OpenSink` step is answered with
    ``target(job)``; sink steps are performed as a shell would, their errors thrown
    into the flow, and kept in ``sink_steps``.
    """

    def __init__(self, flow, clock: FakeClock, *, journal: dict[str, Any] | None = None):
        self.flow = flow
        self.clock = clock
        self.result: Any = None
        self.done = False
        self.sleeps: list[float] = []
        self.sent: list[httpx.Request] = []
        self.notified: list[Any] = []
        self.recorded: list[Record] = []
        #: Reserve and Unreserve steps (the journal's row before a submission), in order.
        self.reserved: list[Reserve | Unreserve] = []
        #: Requests and journal writes, in the order the flow made them.
        self.log: list[Any] = []
        #: What a Lookup step is answered with: job id -> journal entry.
        self.journal: dict[str, Any] = journal or {}
        #: The sink steps (CheckTarget, OpenSink, ResetSink, CloseSink), in order.
        self.sink_steps: list[Any] = []
        self.step = self._advance(lambda: next(self.flow))

    def _advance(self, action):
        """Run the flow to its next step. Journal steps (Reserve, Unreserve, Record,
        Lookup), blocking calls and slot requests are answered here, as a shell would,
        and kept in ``log`` in order with the requests."""
        while True:
            try:
                step = action()
            except StopIteration as stop:
                self.done, self.result = True, stop.value
                return None
            if isinstance(step, Record):
                self.recorded.append(step)
                self.log.append(step)
                action = lambda: self.flow.send(None)  # noqa: E731
                continue
            if isinstance(step, (Reserve, Unreserve)):
                self.reserved.append(step)
                self.log.append(step)
                token = f"reservation-{len(self.reserved)}" if isinstance(step, Reserve) else None
                action = lambda token=token: self.flow.send(token)  # noqa: E731
                continue
            if isinstance(step, Blocking):
                result = step.function()
                action = lambda result=result: self.flow.send(result)  # noqa: E731
                continue
            if isinstance(step, (CheckTarget, OpenSink, ResetSink, CloseSink)):
                self.sink_steps.append(step)
                try:
                    result = _perform_sink_step(step)
                except Exception as exc:
                    action = lambda exc=exc: self.flow.throw(exc)  # noqa: E731
                else:
                    action = lambda result=result: self.flow.send(result)  # noqa: E731
                continue
            if isinstance(step, Lookup):
                entry = self.journal.get(step.job_id)
                action = lambda entry=entry: self.flow.send(entry)  # noqa: E731
                continue
            if isinstance(step, Acquire):
                slot = step.limiter.try_acquire()
                assert slot is not None, "no free slot: a stepped flow would wait forever"
                self.log.append(step)
                action = lambda slot=slot: self.flow.send(slot)  # noqa: E731
                continue
            if isinstance(step, (Send, Stream)):
                self.sent.append(step.request)
                self.log.append(step)
            return step

    # answers --------------------------------------------------------------------------
    def reply(self, resp: httpx.Response):
        assert isinstance(self.step, Send), self.step
        self.step = self._advance(lambda: self.flow.send(resp))
        return self.step

    def stream(
        self, resp: httpx.Response, *, body: bytes | None = None, cut_after: int | None = None
    ):
        """Answer a Stream step as a shell would: the sink takes the body if it accepts."""
        assert isinstance(self.step, Stream), self.step
        sink = self.step.sink
        data = resp.content if body is None else body
        if sink.accept(resp):
            if cut_after is not None:
                sink.write(data[:cut_after])
                self.step = self._advance(
                    lambda: self.flow.throw(
                        httpx.RemoteProtocolError("peer closed", request=resp.request)
                    )
                )
                return self.step
            sink.write(data)
        self.step = self._advance(lambda: self.flow.send(resp))
        return self.step

    def fail(self, exc: Exception):
        assert isinstance(self.step, (Send, Stream)), self.step
        self.step = self._advance(lambda: self.flow.throw(exc))
        return self.step

    def sleep(self):
        assert isinstance(self.step, Sleep), self.step
        self.sleeps.append(self.step.seconds)
        self.clock.advance(self.step.seconds)
        self.step = self._advance(lambda: self.flow.send(None))
        return self.step

    def notify(self):
        assert isinstance(self.step, Notify), self.step
        self.notified.append(self.step.value)
        self.step = self._advance(lambda: self.flow.send(None))
        return self.step

    def run(self, answer) -> Any:
        """Sleep through every Sleep and answer every request with ``answer(request)``:
        a response, or an exception to throw into the flow. Returns the flow's result."""
        while not self.done:
            if isinstance(self.step, Sleep):
                self.sleep()
            elif isinstance(self.step, Notify):
                self.notify()
            else:
                outcome = answer(self.step.request)
                if isinstance(outcome, Exception):
                    self.fail(outcome)
                else:
                    self.reply(outcome)
        return self.result


def _perform_sink_step(step: CheckTarget | OpenSink | ResetSink | CloseSink) -> Any:
    if isinstance(step, CheckTarget):
        return None
    if isinstance(step, OpenSink):
        return step.target(step.job)
    if isinstance(step, ResetSink):
        return step.sink.reset()
    return step.sink.finish() if step.keep else step.sink.discard()
