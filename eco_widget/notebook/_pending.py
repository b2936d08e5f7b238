"""The jobs a new widget offers to resume: those of its account that an earlier session
(a kernel since restarted, a closed notebook, a script that was stopped) submitted and
never saved.

The offer comes from the job journal and holds only what people need to decide: the job
id, prompt, seed, last known status and when it was submitted. Never a key, never a URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._exceptions import EcoVideoError
from .._journal_entry import from_earlier_session
from ._run import FOLLOWED

if TYPE_CHECKING:
    from .._async_client import AsyncClient
    from .._journal import JournalEntry

__all__ = ["from_earlier_session", "pending_entries", "pending_offer"]


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
    return [e for e in entries if from_earlier_session(e) and e.job_id not in FOLLOWED]


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
