"""Whether a process of this host is still running: the test both the local server (are
a stopped server's jobs orphans?) and the widget (are a journal's jobs an earlier
session's?) rely on."""

from __future__ import annotations

import os

__all__ = ["process_running"]


def process_running(pid: int) -> bool:
    """True when process ``pid`` of this host runs. A zombie (exited, not yet reaped)
    does not; a process of another user does."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal test is all there is
