"""What the public API's types promise, checked by mypy (tests/test_typing.py): each
line marked ``# type: ignore[code]`` must be an error of that code (mypy's
``warn_unused_ignores`` fails a line that is not), and each ``assert_type`` must hold.
Never run: only type-checked."""

from __future__ import annotations

from pathlib import Path
from typing import assert_type

from eco_widget import AsyncClient, Client, Job, SlotWait


def on_update(job: Job) -> None: ...


async def on_update_async(job: Job) -> None: ...


def on_wait(wait: SlotWait) -> None: ...


async def on_wait_async(wait: SlotWait) -> None: ...


def blocking(client: Client, job: Job) -> None:
    assert_type(client.download(job), bytes)
    assert_type(client.download(job, "clip.mp4"), Path)
    assert_type(client.download(job, path=Path("clips")), Path)
    client.generate("a", on_update=on_update, on_wait=on_wait)
    client.generate("a", on_update=on_update_async)  # type: ignore[arg-type]
    client.generate("a", on_wait=on_wait_async)  # type: ignore[arg-type]
    client.wait(job, on_update=on_update_async)  # type: ignore[arg-type]
    client.result(job, on_update=on_update_async)  # type: ignore[arg-type]
    client.generate("a", num_frames="33")  # type: ignore[arg-type]


async def asynchronous(client: AsyncClient, job: Job) -> None:
    assert_type(await client.download(job), bytes)
    assert_type(await client.download(job, "clip.mp4"), Path)
    await client.generate("a", on_update=on_update, on_wait=on_wait)
    await client.generate("a", on_update=on_update_async, on_wait=on_wait_async)
    await client.wait(job, on_update=on_update_async)
