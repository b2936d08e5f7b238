"""Blocking until a widget's job is done, from a synchronous notebook cell or a thread.

A widget's jobs run as tasks on its home loop; each sets a thread-safe outcome
(:class:`concurrent.futures.Future`) when it ends. ``wait()`` blocks on it: on the home
loop's own thread the loop is re-entered (with ``nest_asyncio2``, applied to that loop
only) so the task runs meanwhile; on another thread it simply waits. An interrupt stops
the waiting, not the job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

__all__ = ["block_on", "loop_running", "running_loop"]

T = TypeVar("T")


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def loop_running() -> bool:
    """True when this thread runs an event loop (a kernel's cell, a coroutine)."""
    return running_loop() is not None


def block_on(
    outcome: concurrent.futures.Future[T],
    home: asyncio.AbstractEventLoop,
    timeout: float | None = None,
) -> T:
    """Block until ``outcome`` is set and return its result (or raise its error).

    ``home`` is the loop whose tasks set it: re-entered here when this thread runs it,
    run here when it runs nowhere (a script), else (another thread runs it) just waited
    for. ``timeout`` (seconds) raises :class:`TimeoutError`; the job goes on. An
    interrupt (Ctrl-C, the kernel's stop button) raises :class:`KeyboardInterrupt` and
    leaves the job running.
    """
    if outcome.done():
        return outcome.result()
    here = running_loop()
    if home.is_running() and here is not home:
        try:
            return outcome.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"still running after {timeout} s") from None
    if here is not None and here is not home:
        raise RuntimeError(
            "cannot block this event loop to run the widget's own loop: await the widget "
            "instead (`await w`)"
        )
    if home.is_running():
        import nest_asyncio2

        nest_asyncio2.apply(home)
    waiting = home.create_task(_wait_for(outcome, timeout))
    with _interrupt_cancels(home, waiting) as interrupted:
        try:
            return home.run_until_complete(waiting)
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise


async def _wait_for(outcome: concurrent.futures.Future[T], seconds: float | None) -> T:
    return await asyncio.wait_for(asyncio.wrap_future(outcome), seconds)


@contextlib.contextmanager
def _interrupt_cancels(
    loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]
) -> Iterator[list[bool]]:
    """While the body runs the loop, SIGINT cancels ``task`` instead of raising
    KeyboardInterrupt wherever the loop happens to be (inside a job's task, or in the
    kernel's own loop, which would end the kernel). Yields a list that is true once an
    interrupt came."""
    interrupted: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def cancel(signum: int, frame: Any) -> None:
        interrupted.append(True)
        loop.call_soon_threadsafe(task.cancel)

    previous = signal.signal(signal.SIGINT, cancel)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
