"""Blocking on a task of the kernel's event loop from a synchronous notebook cell.

A widget's jobs run as tasks on the kernel's loop; ``wait()`` lets a plain cell block
until one is done: the loop is re-entered (with ``nest_asyncio2``, applied to that loop
only) so the task runs meanwhile, and an interrupt stops the waiting, not the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

__all__ = ["block_on", "loop_running"]

T = TypeVar("T")


def loop_running() -> bool:
    """True when this thread runs an event loop (a kernel's cell, a coroutine)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def block_on(task: asyncio.Future[T], timeout: float | None = None) -> T:
    """Block until ``task`` is done and return its result (or raise its error).

    ``timeout`` (seconds) raises :class:`TimeoutError`; the task goes on. From another
    thread than the loop's, the wait is handed to the loop. An interrupt (Ctrl-C, the
    kernel's stop button) raises :class:`KeyboardInterrupt` and leaves the task running.
    """
    loop = task.get_loop()
    waiter = asyncio.wait_for(asyncio.shield(task), timeout)
    if loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            return asyncio.run_coroutine_threadsafe(waiter, loop).result()
        import nest_asyncio2

        nest_asyncio2.apply(loop)
    waiting = loop.create_task(waiter)
    with _interrupt_cancels(loop, waiting) as interrupted:
        try:
            return loop.run_until_complete(waiting)
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise


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
