"""One journaled job as the journal hands it out, the local statuses a job can end in,
and the session id written with every job a process submits."""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass, fields
from typing import Any

from ._models import EXPIRED, LOST, TERMINAL, Job
from ._params import PARAMETERS, VideoParams
from ._process import process_running

__all__ = [
    "EXPIRED",
    "LOST",
    "SUBMITTING",
    "UNKNOWN_OUTCOME",
    "JournalEntry",
    "from_earlier_session",
    "session_id",
]

#: The status of a row written before its submission was sent. A row still
#: ``submitting`` after its process ended (a crash, a lost reply) has an unknown outcome:
#: the job may have been created and billed; its parameters and seed are kept.
SUBMITTING = "submitting"
#: How such a row's outcome is told to people.
UNKNOWN_OUTCOME = "outcome unknown — may have been billed"
_FINAL = frozenset(TERMINAL | {EXPIRED, LOST})

_session: tuple[int, str] | None = None


def session_id() -> str:
    """This process's session, written with every job it submits: ``host:pid:token``
    (a forked child gets its own). A new widget offers the jobs of other sessions."""
    global _session
    pid = os.getpid()
    if _session is None or _session[0] != pid:
        _session = (pid, f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}")
    return _session[1]


@dataclass(frozen=True)
class JournalEntry:
    """One job as the journal knows it. Times are Unix seconds."""

    base_url: str
    job_id: str
    account: str
    prompt: str | None
    #: One field per entry of :data:`~eco_widget._params.PARAMETERS`, in its order and
    #: of its kind (they are the journal's columns, so they are written out).
    num_frames: int | None
    fps: int | None
    num_inference_steps: int | None
    guidance_scale: float | None
    seed: int | None
    status: str
    progress: float | None
    submitted_at: float
    updated_at: float
    created: float | None
    completed_at: float | None
    expires_at: float | None
    saved_path: str | None
    saved_size: int | None
    error_type: str | None
    error_message: str | None
    batch: str | None
    batch_index: int | None
    #: The process that submitted the job (host, pid and a random token): see
    #: :func:`session_id`.
    session: str | None = None

    @property
    def params(self) -> VideoParams | None:
        """The parameters the job was submitted with (seed included)."""
        if self.prompt is None or self.seed is None:
            return None
        try:
            return VideoParams.create(
                self.prompt, **{name: getattr(self, name) for name in PARAMETERS}
            )
        except ValueError:
            return None

    @property
    def job(self) -> Job:
        """The last snapshot as a :class:`Job` (without the video URL, never stored)."""
        return Job(
            id=self.job_id,
            status=self.status,
            created=self.created,
            completed_at=self.completed_at,
            expires_at=self.expires_at,
            progress=self.progress,
            params=self.params,
        )

    @property
    def is_unknown(self) -> bool:
        """True for a submission without a job id: being sent now, or its reply lost
        (the job may have been created and billed)."""
        return self.status == SUBMITTING

    @property
    def is_finished(self) -> bool:
        """True when nothing is left to do: saved, failed, expired or lost."""
        return self.saved_path is not None or self.status in _FINAL - {"completed"}

    @property
    def is_saved(self) -> bool:
        """True when the video was saved and the file is still there, whole."""
        if self.saved_path is None:
            return False
        try:
            size = os.stat(self.saved_path).st_size
        except OSError:
            return False
        return self.saved_size is None or size == self.saved_size

    def is_expired(self, now: float | None = None) -> bool:
        """True when the video was never saved and its URL's lifetime has passed."""
        if self.status == EXPIRED:
            return True
        if self.saved_path is not None or self.expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def from_earlier_session(entry: JournalEntry) -> bool:
    """True when ``entry`` was submitted by a session that has ended: another process
    of this host that is no longer running, another host, or (same process id) an
    earlier session token. Jobs of a live process are that process's to follow."""
    if entry.session is None:
        return True
    current = session_id()
    if entry.session == current:
        return False
    host, _, rest = entry.session.partition(":")
    pid_text = rest.partition(":")[0]
    if host != current.partition(":")[0] or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    return pid == os.getpid() or not process_running(pid)
