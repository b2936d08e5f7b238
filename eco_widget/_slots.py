"""At most five jobs in flight per account: a submission past that waits for a slot.

One pool per account (base URL and key) per event loop, shared by every widget and
client of the process on that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable

__all__ = ["MAX_ACTIVE_JOBS", "SlotPool", "slot_pool"]

#: The service's limit: jobs queued or processing at once per account.
MAX_ACTIVE_JOBS = 5


class SlotPool:
    """Counts this process's jobs in flight for one account."""

    def __init__(self, size: int = MAX_ACTIVE_JOBS):
        self.size = size
        self.active = 0
        self._free = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def slot(self, on_wait: Callable[[int], None] | None = None) -> AsyncIterator[None]:
        """Hold a slot for the body; ``on_wait(active)`` is called once if it must wait."""
        async with self._free:
            if self.active >= self.size and on_wait is not None:
                on_wait(self.active)
            await self._free.wait_for(lambda: self.active < self.size)
            self.active += 1
        try:
            yield
        finally:
            async with self._free:
                self.active -= 1
                self._free.notify()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SlotPool]] = (
    weakref.WeakKeyDictionary()
)


def slot_pool(account: str) -> SlotPool:
    """The pool of ``account`` on the running event loop."""
    loop = asyncio.get_running_loop()
    pools = _pools.setdefault(loop, {})
    pool = pools.get(account)
    if pool is None:
        pool = pools[account] = SlotPool()
    return pool
