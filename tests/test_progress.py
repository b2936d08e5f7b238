"""The progress estimator behind progress bars: phases, fractions, ETA."""

from __future__ import annotations

import pytest

from eco_widget import PollPolicy, VideoParams
from eco_widget._models import Job
from eco_widget._polling import TimingModel
from eco_widget._progress import Phase, ProgressEstimator
from tests.stepper import job_payload

PARAMS = VideoParams.create("x", num_frames=33, seed=1)
POLICY = PollPolicy(expected_queue=10, processing_min=20, processing_max=20)


def snapshot(status: str, **extra) -> Job:
    return Job.from_payload(job_payload(status=status, **extra), params=PARAMS)


def estimator() -> ProgressEstimator:
    return ProgressEstimator(TimingModel(POLICY), PARAMS, started=0.0)


def test_before_the_first_snapshot_it_is_submitting():
    info = estimator().info(0.0)
    assert info.phase == Phase.SUBMITTING
    assert info.fraction == 0.0
    assert info.eta == pytest.approx(30.0)


def test_queued_fills_the_queue_share_and_counts_down():
    est = estimator()
    est.observe(snapshot("queued"), 5.0)
    info = est.info(5.0)
    assert info.phase == "queued"
    assert 0 < info.fraction < 10 / 30
    assert info.eta == pytest.approx(25.0)
    assert info.elapsed == 5.0


def test_processing_uses_the_servers_progress_when_given():
    est = estimator()
    est.observe(snapshot("queued"), 9.0)
    est.observe(snapshot("processing", progress=0.5), 21.0)
    info = est.info(21.0)
    assert info.phase == "processing"
    assert info.phase_fraction == 0.5
    assert info.estimated is False
    queued = est.info(9.0, phase="queued").fraction
    assert info.fraction > queued


def test_processing_without_progress_is_an_estimate_that_never_reaches_the_end():
    est = estimator()
    est.observe(snapshot("processing"), 1.0)
    early, late = est.info(2.0), est.info(500.0)
    assert early.estimated and late.estimated
    assert early.phase_fraction < late.phase_fraction <= 0.99
    assert late.fraction < 1.0


def test_the_eta_follows_progress_rate():
    est = estimator()
    est.observe(snapshot("processing", progress=0.2), 10.0)
    est.observe(snapshot("processing", progress=0.4), 14.0)
    assert est.info(14.0).eta == pytest.approx(12.0)  # 0.6 left at 0.05 per second


def test_terminal_and_downloading_phases():
    est = estimator()
    est.observe(snapshot("completed", video_url="https://v/x.mp4"), 30.0)
    assert est.info(30.0, phase=Phase.DOWNLOADING).fraction < 1.0
    done = est.info(31.0)
    assert (done.phase, done.fraction, done.eta) == ("completed", 1.0, 0.0)
    est.observe(snapshot("failed", error={"type": "e", "message": "m"}), 32.0)
    failed = est.info(32.0)
    assert failed.phase == "failed" and failed.eta is None


def test_the_estimator_does_not_teach_the_clients_timing_model():
    timing = TimingModel(POLICY)
    est = ProgressEstimator(timing, PARAMS, started=0.0)
    est.observe(snapshot("processing"), 1.0)
    est.observe(snapshot("completed", video_url="https://v/x.mp4"), 40.0)
    assert timing.observations == 0
