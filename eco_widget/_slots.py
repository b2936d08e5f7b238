"""At most five jobs in flight per account in this process: a submission past that waits
for a free slot instead of failing.

One :class:`SlotLimiter` per account (base URL and key) for the whole process, shared by
every client, widget and batch, whichever thread or event loop they run on. Slots are
handed to waiters first come, first served.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

from ._exceptions import SlotTimeoutError

__all__ = ["MAX_ACTIVE_JOBS", "Slot", "SlotLimiter", "SlotWait", "limiter_for", "no_slot"]

#: The service's limit: jobs queued or processing at once per account.
MAX_ACTIVE_JOBS = 5


@dataclass(frozen=True)
class SlotWait:
    """Told to ``on_wait`` callbacks when a submission has to wait.

    ``reason`` is ``"local"`` (this process already runs ``active`` of the account's
    ``limit`` jobs) or ``"server"`` (the server answered 429: jobs of other processes on
    the same key; the next try is in ``retry_after`` seconds). Nothing is billed while
    waiting.
    """

    reason: str
    active: int
    limit: int = MAX_ACTIVE_JOBS
    retry_after: float | None = None

    def __str__(self) -> str:
        if self.reason == "server":
            return (
                f"waiting for a free slot: the account has {self.limit} jobs running "
                f"elsewhere; trying again in {self.retry_after or 0:g} s"
            )
        return f"waiting for a free slot ({self.active} of {self.limit} jobs running)"


class Slot:
    """One held slot; :meth:`release` gives it back (once; later calls do nothing)."""

    def __init__(self, limiter: SlotLimiter):
        self._limiter: SlotLimiter | None = limiter

    def release(self) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            limiter._release()


class _Waiter:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self.slot: Slot | None = None
        self.loop = loop
        self.event = threading.Event() if loop is None else None
        self.future: asyncio.Future[None] | None = loop.create_future() if loop else None

    def wake(self) -> bool:
        """Tell the waiter it holds a slot; False when its event loop is gone."""
        if self.event is not None:
            self.event.set()
            return True
        assert self.loop is not None and self.future is not None
        future = self.future

        def resolve() -> None:
            if not future.done():
                future.set_result(None)

        try:
            self.loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop was closed
            return False
        return True


class SlotLimiter:
    """Counts one account's jobs in flight in this process (thread- and loop-safe)."""

    def __init__(self, size: int = MAX_ACTIVE_JOBS):
        self.size = size
        self._active = 0
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    @property
    def active(self) -> int:
        """Slots held now."""
        return self._active

    @property
    def waiting(self) -> int:
        """Submissions waiting for a slot now."""
        return len(self._waiters)

    def try_acquire(self) -> Slot | None:
        """A slot at once, or ``None`` when all are taken (or others wait before you)."""
        with self._lock:
            if self._active < self.size and not self._waiters:
                self._active += 1
                return Slot(self)
        return None

    def acquire(
        self, cancel: threading.Event | None = None, *, timeout: float | None = None
    ) -> Slot:
        """Block until a slot is free. With ``cancel``, give up (``InterruptedError``)
        once it is set; after ``timeout`` seconds, :class:`SlotTimeoutError`."""
        slot = self.try_acquire()
        if slot is not None:
            return slot
        waiter = _Waiter()
        with self._lock:
            if self._active < self.size and not self._waiters:
                self._active += 1
                return Slot(self)
            self._waiters.append(waiter)
        assert waiter.event is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                wait = 0.25 if cancel is not None else None
                if deadline is not None:
                    left = max(0.0, deadline - time.monotonic())
                    wait = left if wait is None else min(wait, left)
                if waiter.event.wait(wait):
                    break
                if cancel is not None and cancel.is_set():
                    raise InterruptedError("stopped waiting for a slot")
                if deadline is not None and time.monotonic() >= deadline:
                    raise no_slot(timeout)
        except BaseException:
            self._abandon(waiter)
            raise
        assert waiter.slot is not None
        return waiter.slot

    async def acquire_async(self) -> Slot:
        """Wait on the running event loop until a slot is free (cancellable)."""
        slot = self.try_acquire()
        if slot is not None:
            return slot
        waiter = _Waiter(asyncio.get_running_loop())
        with self._lock:
            if self._active < self.size and not self._waiters:
                self._active += 1
                return Slot(self)
            self._waiters.append(waiter)
        assert waiter.future is not None
        try:
            await waiter.future
        except BaseException:
            self._abandon(waiter)
            raise
        assert waiter.slot is not None
        return waiter.slot

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gave up: leave the queue, or pass on the slot it was just handed."""
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return
        if waiter.slot is not None:
            waiter.slot.release()

    def _release(self) -> None:
        with self._lock:
            while self._waiters:  # hand the slot over: the count stays
                waiter = self._waiters.popleft()
                waiter.slot = Slot(self)
                if waiter.wake():
                    return
            self._active -= 1


def no_slot(timeout: float | None) -> SlotTimeoutError:
    """The error of a slot wait that ran out of time."""
    return SlotTimeoutError(
        f"no free slot within {timeout:g} s (this process already runs "
        f"{MAX_ACTIVE_JOBS} jobs of the account): nothing was submitted"
    )


_limiters: dict[str, SlotLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(account: str) -> SlotLimiter:
    """The process-wide limiter of ``account`` (base URL and key hash)."""
    with _limiters_lock:
        limiter = _limiters.get(account)
        if limiter is None:
            limiter = _limiters[account] = SlotLimiter()
        return limiter
