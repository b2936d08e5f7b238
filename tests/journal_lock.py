"""Another process that holds the job journal's write lock on request: the scenario of
a busy journal (a second kernel writing, a backup, a slow network disk), shared by the
kernel-stall test and ``benchmarks/widget_kernel.py``."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["JournalLock"]

#: For each "lock" line on stdin: take the write lock, say "locked", hold it for
#: argv[2] seconds (the scenario), commit, say "released".
_HOLDER = """\
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
for line in sys.stdin:
    if line.strip() != "lock":
        break
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    db.execute("COMMIT")
    print("released", flush=True)
"""


class JournalLock:
    """The holder process of ``journal``: :meth:`lock` makes it hold the write lock for
    ``seconds``; what it says ("locked", "released", then "exited") is read by a
    thread, so that nobody blocks, and handed out by :meth:`said`."""

    def __init__(self, journal: Path, seconds: float):
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(journal), str(seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("exited")

    def lock(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("lock\n")
        self.process.stdin.flush()

    def said(self) -> list[str]:
        """The lines said since the last call (without waiting)."""
        lines = []
        while True:
            try:
                lines.append(self.lines.get_nowait())
            except queue.Empty:
                return lines

    def close(self, timeout: float = 30.0) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=timeout)
