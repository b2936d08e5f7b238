"""Where a downloaded video goes: memory, or a file written atomically.

A sink decides from the response's status and headers whether to take the body, so a
download cut short can go on with a ``Range`` request from the bytes already held. It
also checks what a server sends: a body over the size limit is refused as soon as it is
announced or reached, and a body that is not an MP4 (no ``ftyp`` box at its start: an
HTML error page, zeros) is refused before anything is kept. A file sink never replaces
anything but a regular file.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Protocol

import httpx

from ._exceptions import OutputPathError, UnexpectedResponseError, VideoTooLargeError

__all__ = [
    "DEFAULT_MAX_VIDEO_BYTES",
    "FileSink",
    "MemorySink",
    "Sink",
    "check_target",
    "special_kind",
]

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
#: The largest video body accepted by default: far above any real clip (81 frames of
#: 832×480 take about 0.1–5 MB), far below what would exhaust a notebook's memory.
DEFAULT_MAX_VIDEO_BYTES = 1024**3
#: Where an MP4's ``ftyp`` box must start (it is the first box; ``size`` comes first).
_HEAD = 64


class Sink(Protocol):
    size: int
    accepted: bool

    def accept(self, response: httpx.Response) -> bool: ...
    def write(self, chunk: bytes) -> None: ...
    def reset(self) -> None: ...
    def is_complete(self) -> bool: ...
    def discard(self) -> None: ...


class _SinkBase:
    """What decides whether a response's body is taken, shared by every sink: the
    status and ``Content-Range``, the size limit, and the MP4 signature."""

    def __init__(self, limit: int | None = DEFAULT_MAX_VIDEO_BYTES) -> None:
        self.size = 0
        self.expected: int | None = None
        self.accepted = False
        self.limit = limit
        self._head = b""

    def accept(self, response: httpx.Response) -> bool:
        """Take the body of a 200 (from the start) or of a 206 that goes on exactly where
        the bytes held end; remembers the answer in ``accepted``. A body announced over
        the limit raises :class:`VideoTooLargeError` before a byte is read."""
        self.accepted = self._accept(response)
        if self.accepted and self.expected is not None:
            self._check_size(self.expected)
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

    def write(self, chunk: bytes) -> None:
        """Keep ``chunk``, after the checks: the size limit, and the MP4 signature once
        the first bytes are here."""
        self._check_size(self.size + len(chunk))
        if len(self._head) < _HEAD:
            self._head += chunk[: _HEAD - len(self._head)]
            if len(self._head) >= _HEAD:
                check_mp4(self._head)
        self._keep(chunk)
        self.size += len(chunk)

    def _check_size(self, size: int) -> None:
        if self.limit is not None and size > self.limit:
            raise VideoTooLargeError(
                f"the video body is over the limit of {self.limit} bytes "
                f"({size} bytes announced or received; max_video_bytes sets the limit)",
                size=size,
                limit=self.limit,
            )

    def _finish_checks(self) -> None:
        """Before a body is handed over: whole, and an MP4 (short bodies too)."""
        check_mp4(self._head)

    def is_complete(self) -> bool:
        """True when every byte the server announced is here."""
        return self.expected is None or self.size == self.expected

    def reset(self) -> None:
        self.size = 0
        self._head = b""
        self._clear()

    def _keep(self, chunk: bytes) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _clear(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def check_mp4(head: bytes) -> None:
    """Raise :class:`UnexpectedResponseError` unless ``head`` (a body's first bytes)
    starts an ISO media file: an ``ftyp`` box first."""
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return
    shown = head[:24].decode("ascii", "backslashreplace")
    shown = "".join(c if c.isprintable() else "." for c in shown)
    raise UnexpectedResponseError(
        f"the video body is not an MP4 (it should start with an ftyp box; it starts with "
        f"{shown!r}{'' if head else ' (empty)'}): nothing was kept"
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class MemorySink(_SinkBase):
    """Collects the video in memory. (``BytesIO.getvalue()`` hands over its buffer
    without a copy, so the peak is the video's size, not twice it.)"""

    def __init__(self, limit: int | None = DEFAULT_MAX_VIDEO_BYTES) -> None:
        super().__init__(limit)
        self._buffer = io.BytesIO()

    def _keep(self, chunk: bytes) -> None:
        self._buffer.write(chunk)

    def _clear(self) -> None:
        self._buffer = io.BytesIO()

    def discard(self) -> None:
        self.reset()

    def finish(self) -> bytes:
        self._finish_checks()
        data = self._buffer.getvalue()
        self._buffer = io.BytesIO()
        return data


class FileSink(_SinkBase):
    """Streams the video into a temporary file beside ``path`` and renames it into place
    on :meth:`finish`: memory stays constant and ``path`` never holds a partial file.

    A symbolic link is followed (the file it names is replaced, the link stays); a path
    that is, or leads to, anything but a regular file (a device such as ``/dev/null``, a
    FIFO, a socket, a folder) is refused with :class:`OutputPathError`: it is never
    replaced.
    """

    def __init__(self, path: str | os.PathLike[str], limit: int | None = DEFAULT_MAX_VIDEO_BYTES):
        super().__init__(limit)
        given = Path(path).expanduser()
        # A link is followed: the file it names is replaced, the link stays.
        self.path = Path(os.path.realpath(given)) if given.is_symlink() else given
        _refuse_special(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
        )
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")

    def _keep(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def _clear(self) -> None:
        self._file.seek(0)
        self._file.truncate()

    def discard(self) -> None:
        """Remove the temporary file; ``path`` is left as it was."""
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def finish(self) -> Path:
        """Check the body, flush it to disk and move the file into place atomically
        (over nothing, or over a regular file only)."""
        self._finish_checks()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        _refuse_special(self.path)  # it may have changed since the download began
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, self.path)
        return self.path


def special_kind(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file or a folder (``"a
    character device"``, ``"a FIFO"`` …); ``None`` otherwise. Links are followed."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # absent, or under something that is not a folder
        return None
    kinds = (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), None)


def _refuse_special(path: Path) -> None:
    kind = special_kind(path)
    if path.is_dir():
        kind = "a folder"
    if kind is not None:
        raise OutputPathError(
            f"{path} is {kind}, not a file: a video is only written to a new or regular "
            "file (or into a folder)",
            path=path,
        )


def check_target(path: Path, *, folder: bool) -> None:
    """Check, before a job is submitted, that a video can be saved at ``path`` (a file;
    with ``folder``, a folder to save in): the target is absent, a regular file or
    (with ``folder``) a folder, and its folder exists and can be written, or can be made
    in the nearest folder that exists. Nothing is created. Raises
    :class:`OutputPathError` naming the place."""
    path = Path(os.path.realpath(path.expanduser()))
    if folder or path.is_dir():
        directory = path
    else:
        _refuse_special(path)
        directory = path.parent
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(
            f"cannot save a video in {directory}: {existing} is not a folder", path=existing
        )
    try:
        with tempfile.TemporaryFile(dir=existing):  # the real test of permissions
            pass
    except OSError as exc:
        raise OutputPathError(
            f"cannot save a video in {directory}: {existing}: {exc.strerror or exc}",
            path=existing,
        ) from None
