"""Waiting for a condition that can only be observed by asking (a server answering, a
file appearing), for an event or for a thread, with a deadline that names what was
awaited: a test that would wait for ever fails instead, saying what never happened."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import IO, Any, TypeVar

__all__ = ["DEADLINE", "deadline_wait", "event_wait", "joined", "line_within", "within"]

#: Seconds a test waits for something that takes a second or two (a sandbox job, a
#: widget's video) before it fails, saying what never happened.
DEADLINE = 60.0

T = TypeVar("T")


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


def event_wait(event: threading.Event, timeout: float, what: str) -> None:
    """Wait for ``event`` to be set; :class:`TimeoutError` naming ``what`` after
    ``timeout`` seconds."""
    if not event.wait(timeout):
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def joined(thread: threading.Thread, timeout: float, what: str | None = None) -> None:
    """Wait for ``thread`` to end; :class:`TimeoutError` naming it (or ``what``) after
    ``timeout`` seconds. Start such threads as daemons, so that one left hanging does
    not keep the test process alive."""
    thread.join(timeout)
    if thread.is_alive():
        name = what or f"thread {thread.name!r} to end"
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {name}")


def line_within(stream: IO[str], seconds: float, what: str) -> str:
    """The next line of ``stream`` (a child process's pipe; ``""`` at its end), read by
    a daemon thread; :class:`TimeoutError` naming ``what`` after ``seconds``. After a
    timeout, end the process before reading the stream again."""
    box: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: box.put(stream.readline()), daemon=True).start()
    try:
        return box.get(timeout=seconds)
    except queue.Empty:
        raise TimeoutError(f"timed out after {seconds:.0f} s waiting for {what}") from None


async def within(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """Await ``awaitable`` (a widget, a gallery, a task) and return its result, or
    raise what it raises; :class:`TimeoutError` naming ``what`` after ``seconds``
    (it is cancelled then)."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        raise TimeoutError(f"timed out after {seconds:.0f} s waiting for {what}")
    return task.result()
