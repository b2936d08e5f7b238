"""The poll schedule, run against simulated jobs on a fake clock."""

from __future__ import annotations

import pytest

from eco_widget import PollPolicy, VideoParams
from eco_widget._flows import wait_flow
from eco_widget._models import Job
from eco_widget._polling import PollSchedule, TimingModel
from eco_widget._protocol import Sleep
from tests.stepper import FakeClock, Stepper, job_payload, response, runtime

PARAMS = VideoParams.create("x", num_frames=33, num_inference_steps=50, seed=1)


class SimulatedJob:
    """A job that is queued for ``queue`` s, then processing for ``processing`` s."""

    def __init__(self, clock: FakeClock, queue: float, processing: float, progress: bool):
        self.clock, self.start = clock, clock()
        self.queue, self.processing, self.progress = queue, processing, progress

    @property
    def done_at(self) -> float:
        return self.start + self.queue + self.processing

    def payload(self) -> dict:
        t = self.clock() - self.start
        if t < self.queue:
            return job_payload(status="queued")
        if t < self.queue + self.processing:
            extra = (
                {"progress": round((t - self.queue) / self.processing, 3)} if self.progress else {}
            )
            return job_payload(status="processing", **extra)
        return job_payload(status="completed", video_url="https://v.test/x.mp4")


def run_wait(clock, rt, sim: SimulatedJob) -> tuple[int, float]:
    """(status reads, seconds between completion and its detection)."""
    job = Job.from_payload(job_payload(), params=PARAMS)
    # the job was created "now" on the server's clock
    job = Job(**{**job.__dict__, "created": clock.wall()})
    s = Stepper(wait_flow(rt, job, timeout=3600), clock)
    gets = 0
    while not s.done:
        if isinstance(s.step, Sleep):
            s.sleep()
        else:
            gets += 1
            s.reply(response(s.step.request, 200, sim.payload()))
    return gets, clock() - sim.done_at


def fixed_loop(sim: SimulatedJob, interval: float) -> tuple[int, float]:
    polls = int(sim.done_at // interval - sim.start // interval)
    t = (sim.done_at // interval + 1) * interval
    return polls + 1, t - sim.done_at


@pytest.mark.parametrize("progress", [True, False])
def test_first_job_on_production_timings_costs_no_more_reads_than_a_10s_loop(progress):
    clock = FakeClock()
    rt = runtime(clock)
    sim = SimulatedJob(clock, queue=45, processing=90, progress=progress)
    gets, latency = run_wait(clock, rt, sim)
    ten_gets, _ = fixed_loop(SimulatedJob(FakeClock(), 45, 90, progress), 10)
    assert gets <= ten_gets
    assert 0 <= latency <= 10


def test_learned_timings_make_later_waits_cheap_and_prompt():
    clock = FakeClock()
    rt = runtime(clock)
    first = run_wait(clock, rt, SimulatedJob(clock, 30, 70, progress=False))
    assert rt.timing.observations == 1
    later = [run_wait(clock, rt, SimulatedJob(clock, 30, 70, progress=False)) for _ in range(3)]
    gets, latency = later[-1]
    assert latency < first[1]
    assert latency <= 1.5  # about the 1 s loop's worst case
    assert gets <= fixed_loop(SimulatedJob(FakeClock(), 30, 70, False), 10)[0]


def test_server_progress_gives_a_prompt_detection():
    clock = FakeClock()
    rt = runtime(clock)
    run_wait(clock, rt, SimulatedJob(clock, 40, 100, progress=True))
    gets, latency = run_wait(clock, rt, SimulatedJob(clock, 40, 100, progress=True))
    assert latency <= 1.5
    assert gets <= 12


def test_reads_are_sparse_while_queued_and_dense_near_the_end():
    clock = FakeClock()
    timing = TimingModel(PollPolicy())
    schedule = PollSchedule(timing, started=clock(), params=PARAMS)
    queued = Job.from_payload(job_payload(status="queued"))
    delays = []
    for _ in range(6):
        schedule.observe(queued, clock())
        delays.append(schedule.next_delay(clock()))
        clock.advance(delays[-1])
    assert delays[0] == 1.0  # a first look soon after submitting
    assert max(delays) == 30.0  # then sparse
    # processing, with the server's progress: dense as the expected end nears
    end_delays = []
    for progress in (0.5, 0.8, 0.95, 0.99):
        schedule.observe(
            Job.from_payload(job_payload(status="processing", progress=progress)), clock()
        )
        end_delays.append(schedule.next_delay(clock()))
        clock.advance(end_delays[-1])
    # the last read lands just after the end the progress points to
    assert 0.25 <= end_delays[-1] <= 1.0
    assert end_delays == sorted(end_delays, reverse=True)


def test_past_the_expected_end_reads_back_off_gently():
    policy = PollPolicy(expected_queue=0, processing_min=10, processing_max=10)
    clock = FakeClock()
    schedule = PollSchedule(TimingModel(policy), started=clock(), params=PARAMS)
    processing = Job.from_payload(job_payload(status="processing"))
    delays = []
    for _ in range(12):
        schedule.observe(processing, clock())
        delays.append(schedule.next_delay(clock()))
        clock.advance(delays[-1])
    overdue = delays[-5:]
    assert overdue == sorted(overdue)
    assert all(d <= policy.max_interval for d in delays)
    assert overdue[0] < overdue[-1]


def test_scaled_policy_scales_every_duration():
    scaled = PollPolicy().scaled(0.05)
    assert scaled.min_interval == pytest.approx(0.05)
    assert scaled.expected_queue == pytest.approx(2.25)
    assert scaled.prior_processing(PARAMS) == pytest.approx(
        PollPolicy().prior_processing(PARAMS) * 0.05
    )
    with pytest.raises(ValueError):
        PollPolicy().scaled(0)


def test_prior_processing_grows_with_frames_times_steps():
    policy = PollPolicy()
    small = VideoParams.create("x", num_frames=1, num_inference_steps=20)
    large = VideoParams.create("x", num_frames=81, num_inference_steps=80)
    assert policy.prior_processing(small) == 60
    assert policy.prior_processing(large) == 120
    assert 60 < policy.prior_processing(PARAMS) < 120


@pytest.mark.parametrize("kwargs", [{"min_interval": 0}, {"max_interval": 0.5}, {"approach": 0}])
def test_policy_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        PollPolicy(**kwargs)
