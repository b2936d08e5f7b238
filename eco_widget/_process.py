"""Whether a process of this host is still running: the test both the local server (are
a stopped server's jobs orphans?) and the widget (are a journal's jobs an earlier
session's?) rely on.

It asks :mod:`psutil`, never ``os.kill(pid, 0)``: on Windows that "signal 0" is
``CTRL_C_EVENT``, sent to the whole process group. psutil is imported on first use, so
``import eco_widget`` stays light.
"""

from __future__ import annotations

__all__ = ["process_running"]


def process_running(pid: int) -> bool:
    """True when process ``pid`` of this host runs. A zombie (exited, not yet reaped)
    does not; a process of another user does."""
    import psutil

    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False  # 0 and negatives name process groups, never one process
    try:
        if not psutil.pid_exists(pid):
            return False
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # ZombieProcess included: it exited meanwhile
        return False
    except psutil.AccessDenied:
        return True  # it exists; its status is another user's secret
