"""Serving a video file, whole or one byte range of it (RFC 9110 §14).

- no ``Range`` (or a unit other than ``bytes``, or several ranges): ``200`` with the
  whole file (a server may ignore a range request; multipart answers are not worth it);
- ``bytes=a-b``, ``bytes=a-``, ``bytes=-n``: ``206`` with ``Content-Range``;
- a ``bytes`` range that is malformed or starts past the end: ``416`` with
  ``Content-Range: bytes */<size>`` (and the contract's JSON error body). A position
  of any length is read: one of thousands of digits (``bytes=999…999-``) is past the
  end of any file, without being converted to an int.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["RangeNotSatisfiable", "VideoFileResponse", "parse_range"]

_CHUNK = 64 * 1024
_SPEC = re.compile(r"^[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*$")
#: Longer positions are past the end of any file (and Python will not convert ints of
#: more than 4300 digits from text): they read as this.
_MAX_DIGITS = 30
_BEYOND = 10**_MAX_DIGITS


class RangeNotSatisfiable(Exception):
    """The ``Range`` header asks for bytes the file does not have, or is malformed."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(f"unsatisfiable range for {size} bytes")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` byte span a ``Range`` header asks for, or ``None`` for the
    whole file. Raises :class:`RangeNotSatisfiable`."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None  # unknown unit: ignore the header
    if "," in spec:
        return None  # several ranges: send the whole file
    match = _SPEC.match(spec)
    if match is None or match.group(1) == match.group(2) == "":
        raise RangeNotSatisfiable(size)
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last n bytes
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - suffix), size
    start = _position(first)
    end = size if last == "" else _position(last) + 1
    if last != "" and _position(last) < start:
        raise RangeNotSatisfiable(size)
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, min(end, size)


def _position(digits: str) -> int:
    """A byte position of a ``Range`` header; a huge one reads as :data:`_BEYOND`."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else _BEYOND


class VideoFileResponse(Response):
    """Streams ``[start, end)`` of an MP4 file: 200 for the whole file, 206 for a part."""

    media_type = "video/mp4"

    def __init__(self, path: Path, size: int, span: tuple[int, int] | None, etag: str) -> None:
        self.path = path
        self.start, self.end = span if span is not None else (0, size)
        super().__init__(status_code=200 if span is None else 206, media_type=self.media_type)
        self.headers["accept-ranges"] = "bytes"
        self.headers["content-length"] = str(self.end - self.start)
        self.headers["etag"] = etag
        self.headers["cache-control"] = "private, max-age=3600"
        if span is not None:
            self.headers["content-range"] = f"bytes {self.start}-{self.end - 1}/{size}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        async with await anyio.open_file(self.path, "rb") as file:
            await file.seek(self.start)
            position = self.start
            while position < self.end:
                chunk = await file.read(min(_CHUNK, self.end - position))
                if not chunk:
                    raise RuntimeError(f"{self.path} is shorter than {self.end} bytes")
                position += len(chunk)
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": position < self.end}
                )
        if self.start == self.end:
            await send({"type": "http.response.body", "body": b""})


def file_size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None
