"""Waiting for a condition that can only be observed by asking (a server answering, a
file appearing), with a deadline that names what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["deadline_wait"]


def deadline_wait(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Call ``condition`` until it returns something truthy; return that value.

    Raises :class:`TimeoutError` naming ``what`` once ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
