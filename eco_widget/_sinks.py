"""Where a downloaded video goes: memory, or a file written atomically.

A sink decides from the response's status and headers whether to take the body, so a
download cut short can go on with a ``Range`` request from the bytes already held.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

import httpx

__all__ = ["FileSink", "MemorySink", "Sink"]

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class Sink(Protocol):
    size: int
    accepted: bool

    def accept(self, response: httpx.Response) -> bool: ...
    def write(self, chunk: bytes) -> None: ...
    def reset(self) -> None: ...
    def is_complete(self) -> bool: ...
    def discard(self) -> None: ...


class _SinkBase:
    """What decides whether a response's body is taken, shared by every sink."""

    def __init__(self) -> None:
        self.size = 0
        self.expected: int | None = None
        self.accepted = False

    def accept(self, response: httpx.Response) -> bool:
        """Take the body of a 200 (from the start) or of a 206 that goes on exactly where
        the bytes held end; remembers the answer in ``accepted``."""
        self.accepted = self._accept(response)
        return self.accepted

    def _accept(self, response: httpx.Response) -> bool:
        if response.status_code == 200:
            self.reset()
            self.expected = _int(response.headers.get("content-length"))
            return True
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
            if match is None or int(match.group(1)) != self.size:
                return False
            total = match.group(3)
            self.expected = int(total) if total != "*" else None
            return True
        return False

    def is_complete(self) -> bool:
        """True when every byte the server announced is here."""
        return self.expected is None or self.size == self.expected

    def write(self, chunk: bytes) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class MemorySink(_SinkBase):
    """Collects the video in memory. (``BytesIO.getvalue()`` hands over its buffer
    without a copy, so the peak is the video's size, not twice it.)"""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = io.BytesIO()

    def write(self, chunk: bytes) -> None:
        self._buffer.write(chunk)
        self.size += len(chunk)

    def reset(self) -> None:
        self._buffer = io.BytesIO()
        self.size = 0

    def discard(self) -> None:
        self.reset()

    def finish(self) -> bytes:
        data = self._buffer.getvalue()
        self._buffer = io.BytesIO()
        return data


class FileSink(_SinkBase):
    """Streams the video into a temporary file beside ``path`` and renames it into place
    on :meth:`finish`: memory stays constant and ``path`` never holds a partial file."""

    def __init__(self, path: str | os.PathLike[str]):
        super().__init__()
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
        )
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.size += len(chunk)

    def reset(self) -> None:
        self._file.seek(0)
        self._file.truncate()
        self.size = 0

    def discard(self) -> None:
        """Remove the temporary file; ``path`` is left as it was."""
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def finish(self) -> Path:
        """Flush to disk and move the file into place atomically."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, self.path)
        return self.path
