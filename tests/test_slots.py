"""The per-account limiter: five in flight per process, across threads and event loops,
first come first served, and nothing leaked when a waiter gives up."""

from __future__ import annotations

import asyncio
import threading

import pytest

from eco_widget._slots import MAX_ACTIVE_JOBS, SlotLimiter, SlotWait, limiter_for
from tests.waiting import deadline_wait, event_wait, joined

#: Seconds any wait here may take before the test fails (each takes milliseconds).
DEADLINE = 10


def test_one_limiter_per_account_for_the_whole_process():
    assert limiter_for("http://a#1") is limiter_for("http://a#1")
    assert limiter_for("http://a#1") is not limiter_for("http://a#2")
    assert limiter_for("http://a#1").size == MAX_ACTIVE_JOBS == 5


def test_a_sixth_waits_until_one_is_released_and_release_is_idempotent():
    limiter = SlotLimiter(5)
    slots = [limiter.try_acquire() for _ in range(5)]
    assert all(slots) and limiter.active == 5
    assert limiter.try_acquire() is None
    got = threading.Event()
    holder = []

    def sixth():
        holder.append(limiter.acquire())
        got.set()

    thread = threading.Thread(target=sixth, daemon=True)
    thread.start()
    # The thread has queued (the count is the event).
    deadline_wait(lambda: limiter.waiting, DEADLINE, "the sixth to queue", 0.001)
    assert not got.is_set()
    slots[0].release()
    slots[0].release()  # a second release does nothing
    event_wait(got, DEADLINE, "the sixth to get the released slot")
    joined(thread, DEADLINE)
    assert limiter.active == 5  # handed over, not freed and taken again
    for slot in [*slots[1:], holder[0]]:
        slot.release()
    assert limiter.active == 0


def test_threads_never_exceed_the_limit_and_are_served_in_order():
    limiter = SlotLimiter(1)  # one at a time: the order they run in is the order served
    first = [limiter.try_acquire()]
    order: list[int] = []
    lock = threading.Lock()
    peak = [0]

    def worker(i: int):
        slot = limiter.acquire()
        with lock:
            order.append(i)
            peak[0] = max(peak[0], limiter.active)
        slot.release()

    threads = []
    for i in range(6):
        thread = threading.Thread(target=worker, args=(i,), daemon=True)
        thread.start()
        threads.append(thread)
        deadline_wait(lambda i=i: limiter.waiting >= i + 1, DEADLINE, f"thread {i} to queue", 0.001)
    for slot in first:
        slot.release()
    for thread in threads:
        joined(thread, DEADLINE)
    assert order == list(range(6))
    assert peak[0] <= 1
    assert limiter.active == 0


def test_a_cancelled_thread_waiter_gives_up_cleanly():
    limiter = SlotLimiter(1)
    held = limiter.try_acquire()
    cancel = threading.Event()
    outcome = []

    def waiter():
        try:
            limiter.acquire(cancel)
        except InterruptedError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    deadline_wait(lambda: limiter.waiting, DEADLINE, "the waiter to queue", 0.001)
    cancel.set()
    joined(thread, DEADLINE, "the cancelled waiter to give up")
    assert isinstance(outcome[0], InterruptedError)
    assert limiter.waiting == 0
    held.release()
    assert limiter.active == 0


@pytest.mark.anyio
async def test_tasks_wait_on_the_loop_and_a_cancelled_one_passes_its_turn_on():
    limiter = SlotLimiter(1)
    held = await limiter.acquire_async()
    first = asyncio.ensure_future(limiter.acquire_async())
    second = asyncio.ensure_future(limiter.acquire_async())
    await asyncio.sleep(0)  # one turn of the loop: both tasks run up to their wait
    assert limiter.waiting == 2
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    held.release()
    slot = await asyncio.wait_for(second, DEADLINE)
    assert limiter.active == 1
    slot.release()
    assert limiter.active == 0


@pytest.mark.anyio
async def test_a_slot_released_by_a_thread_wakes_a_task():
    limiter = SlotLimiter(1)
    held = limiter.try_acquire()
    waiting = asyncio.ensure_future(limiter.acquire_async())
    await asyncio.sleep(0)
    assert limiter.waiting == 1
    threading.Thread(target=held.release).start()
    slot = await asyncio.wait_for(waiting, DEADLINE)
    slot.release()
    assert limiter.active == 0


def test_slot_wait_reads_as_a_sentence():
    assert str(SlotWait("local", active=5)) == "waiting for a free slot (5 of 5 jobs running)"
    text = str(SlotWait("server", active=0, retry_after=3))
    assert "elsewhere" in text and "3 s" in text
