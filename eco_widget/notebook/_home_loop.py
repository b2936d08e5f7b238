"""The one event loop a widget's work happens on, whatever thread calls it.

Front ends deliver a widget's messages on threads and event loops of their choosing:
JupyterLab ≥ 4.4 over kernel subshells (a thread with its own asyncio loop per subshell),
marimo on its kernel's thread, user code on threads of its own. A task, an httpx
connection pool or a timer belongs to the loop it was made on, so a widget does all its
work on its **home loop**: the loop running where it was made (the kernel's main loop
in a notebook), or, made outside any loop, the first loop that uses it (a private one in
a plain script). Callers elsewhere only hand work over, thread-safely.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ._loop_wait import block_on, running_loop

__all__ = ["HomeLoop"]

T = TypeVar("T")


class HomeLoop:
    """The home loop of one widget: :meth:`call` runs a function there, :meth:`spawn`
    a coroutine, :meth:`block_on` waits for an outcome from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The home loop, chosen on first use when the widget was made outside a loop:
        the loop running here, else a private loop that :meth:`block_on` runs."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = running_loop() or asyncio.new_event_loop()
            return self._loop

    def here(self) -> bool:
        """True when work may be done right here: this thread runs the home loop, or
        the home loop is not running anywhere (a script between waits)."""
        loop = self.loop
        return running_loop() is loop or not loop.is_running()

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on the home loop: at once when called there, else as
        soon as that loop is free (the caller does not wait)."""
        if self.here():
            function(*args)
        else:
            self.loop.call_soon_threadsafe(function, *args)

    def spawn(self, coroutine: Coroutine[Any, Any, T], name: str | None = None) -> None:
        """Run ``coroutine`` as a task of the home loop, holding a strong reference
        until it ends. Must be called on the home loop (see :meth:`call`)."""
        task = self.loop.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def block_on(self, outcome: concurrent.futures.Future[T], timeout: float | None) -> T:
        """Block until ``outcome`` is set, from any thread (see
        :func:`._loop_wait.block_on`)."""
        return block_on(outcome, self.loop, timeout)

    async def wait(self, outcome: concurrent.futures.Future[T]) -> T:
        """Await ``outcome`` on the running loop, whichever it is. Cancelling the waiter
        leaves the work going on."""
        loop = self.loop
        if not loop.is_running() and running_loop() is not loop:
            raise RuntimeError(
                "this widget's jobs run on the private event loop of the thread that made "
                "it, which is not running: call w.wait() instead of awaiting it, or make "
                "the widget inside the coroutine or notebook that awaits it"
            )
        return await asyncio.wrap_future(outcome)
