"""Retry policy and Retry-After parsing."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from eco_widget import RetryPolicy
from eco_widget._retry import parse_retry_after

NOW = 1_776_391_234.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_retry_after_seconds(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_http_date():
    assert parse_retry_after(formatdate(NOW + 30, usegmt=True), now=NOW) == pytest.approx(30)
    assert parse_retry_after(formatdate(NOW - 30, usegmt=True), now=NOW) == 0.0


def test_backoff_is_exponential_and_capped():
    policy = RetryPolicy(base_backoff=0.5, max_backoff=4, jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]


def test_jitter_stays_within_the_upper_half():
    for r in (0.0, 0.3, 0.999):
        policy = RetryPolicy(base_backoff=1, max_backoff=8, jitter=0.5, random=lambda r=r: r)
        assert 1.0 <= policy.backoff(2) <= 2.0
        assert 2.0 <= policy.backoff(3) <= 4.0


def test_retry_after_wins_when_longer_but_is_capped():
    policy = RetryPolicy(jitter=0.0, max_retry_after=60)
    assert policy.backoff(1, retry_after=10) == 10
    assert policy.backoff(1, retry_after=0.1) == 0.5
    assert policy.backoff(1, retry_after=3600) == 60


def test_retryable_statuses():
    policy = RetryPolicy()
    assert [
        s
        for s in (400, 401, 403, 404, 409, 413, 429, 500, 501, 502, 503, 504)
        if policy.should_retry_status(s)
    ] == [429, 500, 502, 503, 504]


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)
