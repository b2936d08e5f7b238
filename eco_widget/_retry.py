"""Retry policy: which failures are retried and how long to wait between tries. No I/O."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    ``now`` is the current Unix time (for the date form). Returns None when the header
    is absent or unreadable; never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        import email.utils

        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How reads (job status, video download) are retried.

    A read is tried at most ``max_attempts`` times. Connection errors, 429 and
    500/502/503/504 are retried; the wait before try *n* (from 1) is
    ``min(max_backoff, base_backoff * 2**(n-1))`` with full jitter in its upper half, or
    the server's ``Retry-After`` when it is longer (capped at ``max_retry_after``).

    A submit is only retried when the request cannot have reached the server (the
    connection could not be opened): it is billed, so it is never sent twice.
    """

    max_attempts: int = 5
    base_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.5
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1; got {self.max_attempts}")
        if self.base_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff times must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be from 0 to 1; got {self.jitter}")

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1 = the first try)."""
        ceiling = min(self.max_backoff, self.base_backoff * 2.0 ** max(0, attempt - 1))
        delay = ceiling * (1.0 - self.jitter * self.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay

    def should_retry_status(self, status_code: int) -> bool:
        return status_code in RETRYABLE_STATUSES
