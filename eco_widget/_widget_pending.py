"""The jobs a new widget offers to resume: those of its account that an earlier session
(a kernel since restarted, a closed notebook, a script that was stopped) submitted and
never saved.

The offer comes from the job journal and holds only what people need to decide: the job
id, prompt, seed, last known status and when it was submitted. Never a key, never a URL.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ._exceptions import EcoVideoError
from ._widget_run import FOLLOWED

if TYPE_CHECKING:
    from ._client import AsyncClient
    from ._journal import JournalEntry

__all__ = ["pending_entries", "pending_offer", "session_started"]

_IMPORTED = time.time()
_started: float | None = None


def _process_start() -> float:
    """When this process started, in Unix seconds (Linux: from ``/proc``; elsewhere the
    time this module was first imported)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/stat", encoding="ascii") as system:
            boot = next(float(line.split()[1]) for line in system if line.startswith("btime"))
        ticks = os.sysconf("SC_CLK_TCK")
        return boot + int(fields[19]) / ticks
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED


def session_started() -> float:
    """When this session (the kernel's process) began: jobs submitted before it belong
    to an earlier session."""
    global _started
    if _started is None:
        _started = min(_process_start(), _IMPORTED)
    return _started


def pending_entries(client: AsyncClient) -> list[JournalEntry]:
    """The account's journaled jobs still to recover that an earlier session submitted
    and that no widget of this process follows, oldest first. Empty when the client
    keeps no journal or the journal cannot be read (the widget must show anyway)."""
    if client.journal is None:
        return []
    try:
        entries = client._unfinished()
    except EcoVideoError:
        return []
    started = session_started()
    return [e for e in entries if e.submitted_at < started and e.job_id not in FOLLOWED]


def pending_offer(entries: list[JournalEntry]) -> list[dict[str, Any]]:
    """The ``pending`` trait: one small object per job (see static/PROTOCOL.md)."""
    return [
        {
            "job_id": entry.job_id,
            "prompt": entry.prompt,
            "seed": entry.seed,
            "status": entry.status,
            "submitted_at": round(entry.submitted_at * 1000),
        }
        for entry in entries
    ]
