"""When to ask for a job's status next. No I/O, no clock of its own.

The schedule knows the phases of a job. While it is queued, completion is at least a
whole processing time away, so reads are sparse. While it is processing, the expected
end is estimated — from the server's ``progress`` when it sends it, otherwise from
``num_frames × num_inference_steps`` and the durations this client has already observed
— and each read sleeps a fraction of the time still expected, so reads get denser as the
end approaches. Past the expected end, reads start dense and back off gently.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from ._models import Job, JobStatus
from ._params import VideoParams

__all__ = ["PollPolicy", "PollSchedule", "TimingModel"]

# Past an end known from progress, the read lands this share of min_interval after it.
_LANDING = 0.25
_UNITS_MIN = 1 * 20
_UNITS_MAX = 81 * 80


@dataclass(frozen=True)
class PollPolicy:
    """The tunables of the poll schedule (seconds).

    The priors describe the service before this client has seen a job finish: the
    public document's 30–60 s queued and 60–120 s processing, growing with
    ``num_frames × num_inference_steps``. :meth:`scaled` multiplies every duration, for a
    server whose clock runs faster (the sandbox's profiles, benchmarks).
    """

    first_poll: float = 1.0
    min_interval: float = 1.0
    max_interval: float = 30.0
    ramp: float = 3.0
    approach: float = 0.6
    approach_with_progress: float = 0.8
    overdue_growth: float = 1.5
    expected_queue: float = 45.0
    processing_min: float = 60.0
    processing_max: float = 120.0

    def __post_init__(self) -> None:
        if self.min_interval <= 0 or self.first_poll <= 0:
            raise ValueError("poll intervals must be positive")
        if self.max_interval < self.min_interval:
            raise ValueError("max_interval must not be below min_interval")
        for name in ("approach", "approach_with_progress"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1]")

    def scaled(self, factor: float) -> PollPolicy:
        """This policy with every duration multiplied by ``factor``."""
        if factor <= 0:
            raise ValueError(f"factor must be positive; got {factor}")
        return replace(
            self,
            first_poll=self.first_poll * factor,
            min_interval=self.min_interval * factor,
            max_interval=self.max_interval * factor,
            expected_queue=self.expected_queue * factor,
            processing_min=self.processing_min * factor,
            processing_max=self.processing_max * factor,
        )

    def prior_processing(self, params: VideoParams | None) -> float:
        """Expected processing seconds for a job, before any observation."""
        if params is None:
            return (self.processing_min + self.processing_max) / 2
        units = params.num_frames * params.num_inference_steps
        share = (units - _UNITS_MIN) / (_UNITS_MAX - _UNITS_MIN)
        share = min(1.0, max(0.0, share))
        return self.processing_min + share * (self.processing_max - self.processing_min)


@dataclass
class TimingModel:
    """What this client has learned of the server's timings (shared by its waits).

    ``queue`` is a running mean of observed queue times; ``processing_ratio`` a running
    mean of observed processing time over the prior's estimate for the same job size.
    """

    policy: PollPolicy = field(default_factory=PollPolicy)
    weight: float = 0.5
    queue: float | None = None
    processing_ratio: float | None = None
    observations: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def expected_queue(self) -> float:
        return self.policy.expected_queue if self.queue is None else self.queue

    def expected_processing(self, params: VideoParams | None) -> float:
        ratio = 1.0 if self.processing_ratio is None else self.processing_ratio
        return self.policy.prior_processing(params) * ratio

    def observe(self, params: VideoParams | None, queue: float, processing: float) -> None:
        """Record one finished job's queue and processing seconds."""
        if processing <= 0 or queue < 0:
            return
        ratio = processing / self.policy.prior_processing(params)
        with self._lock:
            self.queue = queue if self.queue is None else _blend(self.queue, queue, self.weight)
            self.processing_ratio = (
                ratio
                if self.processing_ratio is None
                else _blend(self.processing_ratio, ratio, self.weight)
            )
            self.observations += 1


def _blend(old: float, new: float, weight: float) -> float:
    return old + weight * (new - old)


class PollSchedule:
    """The schedule of one wait. Feed it each snapshot with :meth:`observe`; ask it
    how long to sleep with :meth:`next_delay`. ``now`` values come from one monotonic
    clock, the caller's."""

    def __init__(self, timing: TimingModel, started: float, params: VideoParams | None = None):
        self.timing = timing
        self.policy = timing.policy
        self.params = params
        self.started = started
        self._last_delay: float | None = None
        self._last_queued_at: float | None = None
        self._processing_seen_at: float | None = None
        self._progress: list[tuple[float, float]] = []
        self._overdue_polls = 0
        self._done_at: float | None = None

    # -- what was seen -------------------------------------------------------------
    def observe(self, job: Job, now: float) -> None:
        """Take in a snapshot read at ``now``."""
        if self.params is None and job.params is not None:
            self.params = job.params
        if job.status == JobStatus.QUEUED.value:
            self._last_queued_at = now
        elif job.status == JobStatus.PROCESSING.value:
            if self._processing_seen_at is None:
                self._processing_seen_at = now
            if job.progress is not None and (
                not self._progress or job.progress > self._progress[-1][1]
            ):
                self._progress = [*self._progress[-1:], (now, job.progress)]
        elif job.is_terminal and self._done_at is None:
            self._done_at = now
            if job.is_completed:
                self._learn(now)

    def _processing_start(self) -> float | None:
        seen = self._processing_seen_at
        if seen is None:
            return None
        before = self._last_queued_at if self._last_queued_at is not None else self.started
        return (before + seen) / 2 if before <= seen else seen

    def _rate(self) -> float | None:
        if len(self._progress) < 2:
            return None
        (t0, p0), (t1, p1) = self._progress
        return (p1 - p0) / (t1 - t0) if t1 > t0 and p1 > p0 else None

    def _learn(self, done_at: float) -> None:
        start = self._processing_start()
        if start is None:
            # Never seen processing: queued straight to done between two reads.
            before = self._last_queued_at if self._last_queued_at is not None else self.started
            start = (before + done_at) / 2
        rate = self._rate()
        processing = 1.0 / rate if rate else done_at - (self._last_delay or 0.0) / 2 - start
        self.timing.observe(
            self.params, queue=max(0.0, start - self.started), processing=processing
        )

    # -- when to look next -----------------------------------------------------------
    def expected_end(self, now: float) -> tuple[float, bool]:
        """The expected completion time, and whether it comes from server progress."""
        rate = self._rate()
        if rate:
            t, p = self._progress[-1]
            return t + (1.0 - p) / rate, True
        processing = self.timing.expected_processing(self.params)
        start = self._processing_start()
        if start is not None:
            if self._progress:
                t, p = self._progress[-1]
                if p >= 0.05 and t > start:
                    return start + (t - start) / p, False
            return start + processing, False
        queue_end = max(self.started + self.timing.expected_queue(), now)
        return queue_end + processing, False

    def next_delay(self, now: float) -> float:
        """Seconds to sleep before the next status read."""
        policy = self.policy
        floor = policy.min_interval
        if self._last_delay is None:
            delay = policy.first_poll
        else:
            end, from_progress = self.expected_end(now)
            remaining = end - now
            if remaining > 0:
                self._overdue_polls = 0
                share = policy.approach_with_progress if from_progress else policy.approach
                delay = share * remaining
                if from_progress and delay < floor:
                    # The server's progress pins the end down: land just after it.
                    delay = remaining + _LANDING * floor
                    floor *= _LANDING
            else:
                delay = floor * policy.overdue_growth**self._overdue_polls
                self._overdue_polls += 1
            delay = min(delay, self._last_delay * policy.ramp)
        delay = min(max(delay, floor), policy.max_interval)
        self._last_delay = delay
        return delay
