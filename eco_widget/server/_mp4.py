"""Encode RGB frames into a browser-playable H.264 MP4.

The one encoding path of the local server: the sandbox renderer and any model backend
hand their frames to :func:`encode_mp4`. PyAV and NumPy are imported here, never by
``import eco_widget``: they belong to the ``sandbox`` extra.

The output is deterministic: the same frames, frame rate and settings give the same
bytes on the same machine and library versions (a fixed x264 thread count, no
macroblock-tree rate control, single-threaded colour conversion, no creation time, no
muxer version string).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterable
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import Colorspace, VideoReformatter

__all__ = ["DEFAULT_CRF", "DEFAULT_PRESET", "encode_mp4"]

DEFAULT_CRF = 23
DEFAULT_PRESET = "veryfast"
_THREADS = 2

# With x264's macroblock-tree rate control, the output depends on leftover heap contents:
# identical frames encoded to different bytes from one run to the next (PyAV 18.1's x264).
# Without it, x264 is deterministic for a fixed thread count (which also fixes the slices).
_X264_PARAMS = "mbtree=0"

# FFmpeg's enum values for BT.709 (colour space, primaries, transfer) and limited range:
# tagged in the H.264 stream so players convert back to RGB with the matrix used here.
_BT709 = 1
_RANGE_LIMITED = 1


def encode_mp4(
    frames: Iterable[np.ndarray],
    *,
    fps: int,
    width: int,
    height: int,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
) -> bytes:
    """Encode ``frames`` as an H.264 MP4 and return its bytes.

    Each frame is a ``height × width × 3`` ``uint8`` RGB array; frames are consumed one
    at a time, so a generator streams. The video has exactly as many frames as given, at
    exactly ``fps`` frames per second (duration ``len(frames) / fps``), in ``yuv420p``
    with BT.709 colour tags, and its ``moov`` index precedes the media data
    (``+faststart``) so a browser starts playing before the whole file has arrived.

    FFmpeg's faststart pass re-reads the finished file by name, which an in-memory
    output cannot offer, so the file is written in a private temporary directory that
    is removed before returning.

    Raises :class:`ValueError` for a non-positive ``fps``, odd or non-positive
    dimensions, a frame of the wrong shape or type, or no frames at all.
    """
    if isinstance(fps, bool) or not isinstance(fps, int) or fps < 1:
        raise ValueError(f"fps must be a positive integer; got {fps!r}")
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"width and height must be positive and even; got {width}×{height}")
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError("no frames to encode")
    with tempfile.TemporaryDirectory(prefix="eco_widget-mp4-") as directory:
        path = os.path.join(directory, "video.mp4")
        _write(
            path,
            itertools.chain((first,), iterator),
            fps=fps,
            width=width,
            height=height,
            crf=crf,
            preset=preset,
        )
        with open(path, "rb") as file:
            return file.read()


def _write(
    path: str,
    frames: Iterable[np.ndarray],
    *,
    fps: int,
    width: int,
    height: int,
    crf: int,
    preset: str,
) -> None:
    """Encode ``frames`` (at least one) into the MP4 file at ``path``."""
    time_base = Fraction(1, fps)
    options = {"movflags": "+faststart", "fflags": "+bitexact"}
    count = 0
    with av.open(path, "w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        context = stream.codec_context
        context.time_base = time_base
        context.colorspace = _BT709
        context.color_primaries = _BT709
        context.color_trc = _BT709
        context.color_range = _RANGE_LIMITED
        context.options = {
            "preset": preset,
            "crf": str(crf),
            "threads": str(_THREADS),
            "x264-params": _X264_PARAMS,
        }
        reformatter = VideoReformatter()
        for rgb in frames:
            _check_frame(rgb, width=width, height=height, index=count)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame = reformatter.reformat(
                frame, format="yuv420p", dst_colorspace=Colorspace.ITU709, threads=1
            )
            frame.pts = count
            frame.time_base = time_base
            container.mux(stream.encode(frame))
            count += 1
        container.mux(stream.encode(None))


def _check_frame(rgb: np.ndarray, *, width: int, height: int, index: int) -> None:
    """Raise :class:`ValueError` unless ``rgb`` is a ``height × width × 3`` uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.shape != (height, width, 3):
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(
            f"frame {index} must be a {height}×{width}×3 uint8 RGB array; "
            f"got shape {shape} of {dtype}"
        )
