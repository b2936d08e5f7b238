"""The server's pure parts: configuration, timing, ranges, signing, stats, progress."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eco_widget._params import VideoParams
from eco_widget.server import FaultConfig, ServerConfig
from eco_widget.server._jobs import JobRunner
from eco_widget.server._records import JobRecord, hash_key
from eco_widget.server._signing import ExpiredURL, InvalidSignature, UrlSigner
from eco_widget.server._stats import ServerStats
from eco_widget.server._timing import TimingPlanner
from eco_widget.server._video import RangeNotSatisfiable, parse_range

KEY = "eco_unit_key_1"


# -- configuration ------------------------------------------------------------------


def test_config_defaults_and_a_repr_without_keys(tmp_path):
    config = ServerConfig(api_keys=[KEY], data_dir=str(tmp_path))
    assert config.api_keys == (KEY,)
    assert config.data_dir == Path(tmp_path)
    assert (config.profile, config.time_scale, config.url_ttl) == ("fast", 1.0, 86400.0)
    assert (config.max_active_per_key, config.max_body_bytes) == (5, 65536)
    assert config.faults == FaultConfig()
    assert not config.faults.enabled
    assert KEY not in repr(config)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"api_keys": KEY}, TypeError),
        ({"api_keys": ()}, ValueError),
        ({"api_keys": ("has space",)}, ValueError),
        ({"api_keys": ("",)}, ValueError),
        ({"profile": "slow"}, ValueError),
        ({"time_scale": -1}, ValueError),
        ({"time_scale": float("nan")}, ValueError),
        ({"url_ttl": 0}, ValueError),
        ({"max_active_per_key": 0}, ValueError),
        ({"max_body_bytes": True}, ValueError),
        ({"faults": {"error_rate": 1}}, TypeError),
        ({"renderer": object()}, TypeError),
        ({"seed": 1.5}, TypeError),
        ({"data_dir": 3}, TypeError),
    ],
)
def test_config_rejects_bad_values(tmp_path, changes, error):
    settings = {"api_keys": (KEY,), "data_dir": tmp_path, **changes}
    with pytest.raises(error) as raised:
        ServerConfig(**settings)
    assert "has space" not in str(raised.value)


@pytest.mark.parametrize(
    "changes",
    [{"error_rate": 1.5}, {"drop_rate": -0.1}, {"slow_seconds": -1}, {"burst_429_every": -1}],
)
def test_fault_config_rejects_bad_values(changes):
    with pytest.raises(ValueError):
        FaultConfig(**changes)


def test_fault_config_knows_when_it_is_on():
    assert FaultConfig(error_rate=0.1).enabled
    assert not FaultConfig(burst_429_every=3).enabled  # a burst of length 0
    assert FaultConfig(burst_429_every=3, burst_429_length=1).enabled


# -- timing -------------------------------------------------------------------------

SMALLEST = VideoParams.create("x", num_frames=1, num_inference_steps=20, seed=1)
LARGEST = VideoParams.create("x", num_frames=81, num_inference_steps=80, seed=1)
DEFAULT = VideoParams.create("x", seed=1)


def _plans(profile, params, scale=1.0, seed=3, n=200):
    planner = TimingPlanner(profile, scale, random.Random(seed))
    return [planner.plan(params) for _ in range(n)]


def test_instant_has_no_queue_and_no_processing_time():
    assert {(p.queue_seconds, p.processing_seconds) for p in _plans("instant", DEFAULT)} == {
        (0.0, 0.0)
    }


def test_fast_takes_a_few_seconds():
    plans = _plans("fast", DEFAULT)
    assert all(0.3 <= p.queue_seconds <= 1.0 for p in plans)
    assert all(1.0 <= p.processing_seconds <= 3.0 for p in plans)


def test_realistic_scales_processing_with_the_work():
    small = _plans("realistic", SMALLEST)
    large = _plans("realistic", LARGEST)
    middle = _plans("realistic", DEFAULT)
    assert all(30.0 <= p.queue_seconds <= 60.0 for p in small + large)
    assert all(60.0 <= p.processing_seconds <= 65.0 for p in small)
    assert all(115.0 <= p.processing_seconds <= 120.0 for p in large)
    mean = sum(p.processing_seconds for p in middle) / len(middle)
    assert 65.0 < mean < 115.0


def test_time_scale_multiplies_and_the_seed_reproduces():
    assert _plans("realistic", DEFAULT, seed=9) == _plans("realistic", DEFAULT, seed=9)
    assert _plans("realistic", DEFAULT, seed=9) != _plans("realistic", DEFAULT, seed=10)
    base = _plans("fast", DEFAULT, n=5)
    scaled = _plans("fast", DEFAULT, scale=0.05, n=5)
    for one, other in zip(base, scaled, strict=True):
        assert other.queue_seconds == pytest.approx(one.queue_seconds * 0.05)
        assert other.processing_seconds == pytest.approx(one.processing_seconds * 0.05)


# -- ranges -------------------------------------------------------------------------


@given(size=st.integers(1, 500), first=st.integers(0, 600), last=st.integers(0, 600))
def test_a_closed_range_is_the_slice_python_would_take(size, first, last):
    data = bytes(range(256)) * 2
    data = data[:size]
    header = f"bytes={first}-{last}"
    if first >= size or last < first:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, size)
    else:
        start, end = parse_range(header, size)
        assert data[start:end] == data[first : last + 1]


@given(size=st.integers(1, 500), suffix=st.integers(1, 600))
def test_a_suffix_range_is_the_tail(size, suffix):
    start, end = parse_range(f"bytes=-{suffix}", size)
    assert (start, end) == (max(0, size - suffix), size)


def test_ranges_the_server_ignores_or_refuses():
    assert parse_range(None, 10) is None
    assert parse_range("pages=1-2", 10) is None
    assert parse_range("bytes=0-1,4-5", 10) is None
    assert parse_range("bytes=3-", 10) == (3, 10)
    for header in ("bytes=", "bytes=-", "bytes=x-1", "bytes=-0", "bytes=10-", "bytes=1-2-3"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 10)


# -- signing ------------------------------------------------------------------------


def test_signatures_verify_expire_and_refuse_tampering():
    signer = UrlSigner(b"k" * 32)
    signature = signer.signature("vid_a", 1000)
    assert len(signature) == 64
    assert signer.verify("vid_a", "1000", signature, now=999.0) == 1000
    assert signer.verify("vid_a", "1000", signature.upper(), now=999.0) == 1000
    with pytest.raises(ExpiredURL) as expired:
        signer.verify("vid_a", "1000", signature, now=1000.0)
    assert expired.value.expires == 1000
    for job_id, expires, sig in [
        ("vid_b", "1000", signature),
        ("vid_a", "1001", signature),
        ("vid_a", "01000", signature),
        ("vid_a", "1000", signature[:-1]),
        ("vid_a", "1000", None),
        ("vid_a", None, signature),
        ("vid_a", "1000", "é" * 64),
    ]:
        with pytest.raises(InvalidSignature):
            signer.verify(job_id, expires, sig, now=0.0)
    assert UrlSigner(b"x" * 32).signature("vid_a", 1000) != signature


# -- stats --------------------------------------------------------------------------


def test_stats_count_per_key_and_in_total():
    stats = ServerStats(lambda key_hash: {"queued": 0, "seen": key_hash == hash_key(KEY)})
    stats.record_request(hash_key(KEY), "posts")
    stats.record_request(None, "job_gets")
    stats.record_fault(hash_key(KEY), "drop")
    mine = stats.for_key(KEY)
    assert mine["requests"] == {"posts": 1, "job_gets": 0, "video_gets": 0}
    assert mine["faults"]["drop"] == 1
    assert mine["jobs"]["seen"] is True
    assert stats.totals()["requests"] == {"posts": 1, "job_gets": 1, "video_gets": 0}


# -- progress -----------------------------------------------------------------------


def _processing(started_at: float, seconds: float, owner: str) -> JobRecord:
    return JobRecord(
        id="vid_p",
        key_hash="h",
        status="processing",
        created=0.0,
        started_at=started_at,
        completed_at=None,
        params=DEFAULT,
        params_error=None,
        error=None,
        queue_seconds=0.0,
        processing_seconds=seconds,
        owner=owner,
    )


def test_progress_follows_the_clock_and_the_render_and_stays_below_one():
    runner = JobRunner(store=None, renderer=None, planner=None)  # type: ignore[arg-type]
    mine = runner.token
    runner._render_progress["vid_p"] = 1.0
    assert runner.progress(_processing(100.0, 10.0, mine), now=102.5) == 0.25
    assert runner.progress(_processing(100.0, 10.0, mine), now=200.0) == 0.999
    runner._render_progress["vid_p"] = 0.4
    assert runner.progress(_processing(100.0, 10.0, mine), now=109.0) == 0.4
    # Instant profile: no planned time, the render's progress alone.
    assert runner.progress(_processing(100.0, 0.0, mine), now=100.0) == 0.4
    # Another server's job: the clock alone.
    assert runner.progress(_processing(100.0, 10.0, "other"), now=105.0) == 0.5
    queued = _processing(100.0, 10.0, mine)
    assert runner.progress(JobRecord(**{**queued.__dict__, "status": "queued"}), 105.0) is None
