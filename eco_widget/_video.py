"""A finished video: its bytes or file, the job behind it, and how it shows in a notebook."""

from __future__ import annotations

import base64
import html
import operator
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ._models import Job, check_job_id

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Video", "default_filename"]

_SLUG = re.compile(r"[^a-z0-9]+")


def default_filename(job: Job, *, unique: bool = False) -> str:
    """A file name from the prompt's first words and the seed, e.g.
    ``red-balloon-over-a-mountain-s1234.mp4``; the job id when they are unknown.
    ``unique`` adds the job id (``…-s1234-vid_abc.mp4``), for folders of many videos.

    Built only from safe parts: the slug (``a-z``, ``0-9``, ``-``), the seed (an int)
    and the job id, checked again here (:func:`check_job_id`:
    :class:`UnexpectedResponseError` for anything but letters, digits, ``_``, ``-``), so
    the name never holds a separator, ``..`` or a control character."""
    job_id = check_job_id(job.id)
    if job.params is None:
        return f"{job_id}.mp4"
    slug = _SLUG.sub("-", job.params.prompt.lower()).strip("-")[:48].rstrip("-") or "video"
    suffix = f"-{job_id}" if unique else ""
    return f"{slug}-s{job.params.seed}{suffix}.mp4"


class Video:
    """A completed video.

    Holds the bytes (``data``), the file it was saved to (``path``), or both; ``data``
    is read lazily from ``path`` when only the file is kept. In a notebook it shows as an
    inline ``<video controls>`` whose source is embedded, so it also plays in a saved
    notebook viewed statically.
    """

    def __init__(
        self, job: Job, *, data: bytes | None = None, path: str | os.PathLike[str] | None = None
    ):
        if data is None and path is None:
            raise ValueError("a Video needs its bytes or the path of its file")
        self.job = job
        self._data = data
        self.path = Path(path) if path is not None else None
        self._size: int | None = None

    # -- facts ------------------------------------------------------------------------
    @property
    def data(self) -> bytes:
        """The MP4 bytes (read from ``path`` on first use when the video was saved)."""
        if self._data is None:
            assert self.path is not None
            return self.path.read_bytes()
        return self._data

    @property
    def size(self) -> int:
        """The video's size in bytes (the file's, read once)."""
        if self._data is not None:
            return len(self._data)
        if self._size is None:
            assert self.path is not None
            self._size = self.path.stat().st_size
        return self._size

    @property
    def seed(self) -> int | None:
        """The seed the video was made with: reuse it to make the same video again."""
        return self.job.seed

    @property
    def prompt(self) -> str | None:
        return self.job.params.prompt if self.job.params else None

    @property
    def duration_seconds(self) -> float | None:
        """Length in seconds (``num_frames / fps``): what is billed."""
        if self.job.duration_seconds is not None:
            return self.job.duration_seconds
        return self.job.params.duration_seconds if self.job.params else None

    # -- keeping it -------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a copy of the video to ``path`` atomically and return the path written.

        ``path`` is a file, or a folder to put it in under :func:`default_filename`: one
        that exists, or one written with a trailing slash (``"clips/"``, created).

        The copy is yours: ``video.path`` stays the file the video came from (the
        auto-saved one, which the journal knows and ``client.result(job)`` returns
        again), so use the returned path to refer to the copy. Only a video held in
        memory, with no file yet, takes the first file it is saved to as its ``path``.
        """
        target = _target(path, default_filename(self.job))
        if self.path is not None and target.exists() and target.samefile(self.path):
            return target
        if self._data is not None:
            data = self._data
            _write_atomically(target, lambda out: out.write(data))
        else:
            assert self.path is not None
            source = self.path
            _write_atomically(target, lambda out: _copy(source, out))
        if self.path is None:
            self.path = target
        return target

    # -- as data (NumPy, PyAV and Pillow: the ``media`` extra) ---------------------------
    def _source(self) -> bytes | Path:
        """What to decode: the bytes in memory, else the file (never copied)."""
        if self._data is not None:
            return self._data
        assert self.path is not None
        return self.path

    def frames(self) -> np.ndarray:
        """Every frame as a ``(num_frames, height, width, 3)`` ``uint8`` RGB array.

        Decoded (PyAV) on each call from ``data`` or straight from the file at ``path``:
        keep the array rather than calling again. An 81-frame 832×480 video is 97 MiB.
        Needs the ``media`` extra (``pip install 'eco_widget[media]'``).
        """
        from ._media import decode_frames

        return decode_frames(self._source())

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as a ``(height, width, 3)`` ``uint8`` RGB array; ``-1`` is the last.

        Decodes only up to that frame. :class:`IndexError`, naming the number of
        frames, when there is no such frame.
        """
        from ._media import decode_frame

        return decode_frame(self._source(), operator.index(index))

    def poster(self, *, width: int | None = None) -> bytes:
        """A still of the video as PNG bytes: its middle frame (``num_frames // 2``).

        The middle rather than the first: a generated clip often opens on its least
        typical frame (a fade-in, a subject not yet in view), and the middle is as far as
        can be from both ends of a motion. The same image every time. ``width`` scales
        it, keeping the aspect ratio (e.g. ``width=96`` for a thumbnail).
        """
        width = None if width is None else operator.index(width)
        if width is not None and width < 1:
            raise ValueError(f"width must be at least 1; got {width}")
        from ._media import middle_frame, png

        return png(middle_frame(self._source(), width=width))

    def to_gif(
        self, path: str | os.PathLike[str], *, width: int | None = None, fps: float | None = None
    ) -> Path:
        """Write the video as an animated GIF (Pillow) that loops forever; return its path.

        ``width`` scales it keeping the aspect ratio (any size: a GIF needs no even
        dimensions); ``fps`` (at most the video's) shows fewer frames, picked by time, so
        the GIF lasts as long as the video. Every frame is shown for ``1 / fps`` seconds,
        in the GIF's steps of 10 ms (60 and 70 ms alternate at 16 fps). Consecutive
        frames that come out identical are merged into one longer frame.

        ``path`` is a file, or a folder (one that exists or ``"gifs/"``) to put it in
        under the video's file name with ``.gif``. Written atomically, as :meth:`save`.
        """
        width = None if width is None else operator.index(width)
        if width is not None and width < 1:
            raise ValueError(f"width must be at least 1; got {width}")
        if fps is not None and (isinstance(fps, bool) or not fps > 0):
            raise ValueError(f"fps must be a positive number; got {fps!r}")
        from ._media import write_gif

        source = self._source()
        target = _target(path, Path(default_filename(self.job)).with_suffix(".gif").name)
        return _write_atomically(target, lambda out: write_gif(source, out, width=width, fps=fps))

    def resized(self, width: int) -> Video:
        """A new :class:`Video` of the same job, ``width`` pixels wide, held in memory.

        Height follows the aspect ratio; both are made even (``yuv420p`` needs it), so
        an odd ``width`` loses one pixel. Same frames, same frame rate, re-encoded as an
        H.264 MP4 (``libx264``, ``yuv420p``, ``movflags=+faststart``). Its ``path`` is
        ``None`` until it is saved (:meth:`save`): the original's file is not touched.
        """
        width = operator.index(width)
        if width < 2:
            raise ValueError(f"width must be at least 2; got {width}")
        from ._media import encode_resized

        return Video(self.job, data=encode_resized(self._source(), width))

    # -- showing it -------------------------------------------------------------------
    def __repr__(self) -> str:
        parts = [f"job_id={self.job.id!r}", f"seed={self.seed}"]
        if self.job.params is not None:
            parts.append(f"num_frames={self.job.params.num_frames}")
            parts.append(f"fps={self.job.params.fps}")
        if self.duration_seconds is not None:
            parts.append(f"duration_seconds={self.duration_seconds:g}")
        if self.path is not None:
            parts.append(f"path={str(self.path)!r}")
        return f"Video({', '.join(parts)})"

    def _repr_html_(self) -> str:
        source = base64.b64encode(self.data).decode("ascii")
        caption = html.escape(self._caption())
        return (
            '<figure style="margin:0">'
            f'<video controls loop playsinline style="max-width:100%" title="{caption}">'
            f'<source src="data:video/mp4;base64,{source}" type="video/mp4">'
            "Your viewer cannot play MP4 video.</video>"
            f'<figcaption style="font-size:smaller">{caption}</figcaption></figure>'
        )

    def _caption(self) -> str:
        parts = []
        if self.prompt is not None:
            parts.append(self.prompt.strip())
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        if self.duration_seconds is not None:
            parts.append(f"{self.duration_seconds:g} s")
        parts.append(self.job.id)
        return " · ".join(parts)


def _target(path: str | os.PathLike[str], name: str) -> Path:
    """``path``, or ``path / name`` when it is a folder: one that exists, or one written
    with a trailing slash."""
    folder = isinstance(path, str) and path.endswith(("/", os.sep))
    target = Path(path).expanduser()
    return target / name if folder or target.is_dir() else target


def _copy(source: Path, out: IO[bytes]) -> None:
    with source.open("rb") as read:
        shutil.copyfileobj(read, out)


def _write_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Have ``write`` fill a temporary file next to ``target``, then rename it into place:
    ``target`` is never seen half written, and is left as it was when ``write`` fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
