"""A video as data: decoded to NumPy arrays, written as an animated GIF or a smaller MP4.

The working half of :class:`~eco_widget.Video`'s ``frames``, ``frame``, ``poster``,
``to_gif`` and ``resized``. NumPy, PyAV and Pillow (the ``media`` extra) are imported
here, and this module only when one of those methods is called, never by ``import
eco_widget``; without them, importing it raises an :class:`ImportError` that names the
extra to install.

A video is read from its bytes in memory or from its file, never copied to a temporary
file; an MP4 is also written in memory (FFmpeg's ``faststart`` pass, which moves the
index before the media data, re-reads the output through :class:`_Reader`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

MEDIA_DEPENDENCIES = frozenset({"numpy", "av", "PIL"})
MEDIA_EXTRA = "pip install 'eco_widget[media]'"

try:
    import av
    import numpy as np
    from PIL import Image
except ImportError as exc:
    if (exc.name or "").split(".")[0] not in MEDIA_DEPENDENCIES:
        raise
    raise ImportError(
        f"Video frames, GIFs and resizing need the media extra ({exc.name} is missing): "
        f"{MEDIA_EXTRA}",
        name=exc.name,
    ) from exc

__all__ = [
    "MEDIA_DEPENDENCIES",
    "MEDIA_EXTRA",
    "count_frames",
    "decode_frame",
    "decode_frames",
    "encode_resized",
    "gif_frame_indexes",
    "jpeg",
    "middle_frame",
    "png",
    "resized_size",
    "write_gif",
]

#: Where a video is read from: its MP4 bytes, or the path of its file.
Source = bytes | Path

_CRF = 23
_PRESET = "veryfast"


# -- reading ---------------------------------------------------------------------------
def _open(source: Source) -> Any:
    """The video's container, opened for reading (bytes through an in-memory file)."""
    return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))


def _video_frames(source: Source) -> Iterator[Any]:
    """Yield the decoded frames (PyAV's, in the stream's own pixel format).

    Decoding runs in FFmpeg's threads (``thread_type="AUTO"``).
    """
    with _open(source) as container:
        if not container.streams.video:
            raise ValueError("the file holds no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from container.decode(stream)


def _rgb(frame: Any, width: int | None = None, height: int | None = None) -> np.ndarray:
    """A frame as a ``height × width × 3`` uint8 RGB array, scaled when asked.

    The conversion uses the colour matrix the stream is tagged with (BT.709 for the
    sandbox's videos).
    """
    if width is None or height is None:
        return frame.to_ndarray(format="rgb24")
    return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")


def _decoded(
    source: Source, *, width: int | None = None, height: int | None = None
) -> Iterator[np.ndarray]:
    """Yield the frames as RGB arrays (see :func:`_rgb`)."""
    for frame in _video_frames(source):
        yield _rgb(frame, width, height)


def _header(source: Source) -> tuple[int, Fraction, int, int]:
    """(frames the header announces or 0, frame rate, width, height), read without decoding."""
    with _open(source) as container:
        if not container.streams.video:
            raise ValueError("the file holds no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(16)
        context = stream.codec_context
        return stream.frames, Fraction(rate), context.width, context.height


def decode_frames(source: Source) -> np.ndarray:
    """Every frame, as one ``(num_frames, height, width, 3)`` uint8 RGB array.

    The array is allocated once from the frame count in the MP4 header and filled as
    frames are decoded (no list of frames to stack, so the peak is the array itself);
    a header that announces no count, or a wrong one, still gives every frame.
    """
    announced = _header(source)[0]
    frames: np.ndarray | None = None
    extra: list[np.ndarray] = []
    count = 0
    for rgb in _decoded(source):
        if frames is None:
            frames = np.empty((max(announced, 1), *rgb.shape), dtype=np.uint8)
        if count < len(frames):
            frames[count] = rgb
        else:
            extra.append(rgb)
        count += 1
    if frames is None:
        raise ValueError("the video has no frames")
    if extra:
        return np.concatenate([frames, np.stack(extra)])
    return frames[:count] if count < len(frames) else frames


def count_frames(source: Source) -> int:
    """How many frames the video has: the header's count, or by decoding when it has none."""
    announced = _header(source)[0]
    if announced > 0:
        return int(announced)
    with _open(source) as container:
        return sum(1 for _ in container.decode(video=0))


def decode_frame(source: Source, index: int, *, width: int | None = None) -> np.ndarray:
    """Frame ``index`` (negative counts from the end) as a ``height × width × 3`` array.

    Decodes up to that frame and stops. ``width`` scales it, keeping the aspect ratio.
    Raises :class:`IndexError` naming the number of frames when there is no such frame.
    """
    return _frame_at(source, index, count_frames(source), width)


def middle_frame(source: Source, *, width: int | None = None) -> np.ndarray:
    """The poster frame: frame ``num_frames // 2``, scaled to ``width`` when given."""
    total = count_frames(source)
    return _frame_at(source, total // 2, total, width)


def _frame_at(source: Source, index: int, total: int, width: int | None) -> np.ndarray:
    position = index + total if index < 0 else index
    if not 0 <= position < total:
        raise IndexError(f"frame index {index} is out of range: the video has {total} frames")
    for number, frame in enumerate(_video_frames(source)):
        if number == position:
            if width is None:
                return _rgb(frame)
            return _rgb(frame, width, max(1, round(width * frame.height / frame.width)))
    raise IndexError(f"frame index {index} is out of range: the video has fewer frames")


def png(rgb: np.ndarray) -> bytes:
    """The PNG file of one RGB frame."""
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="PNG")
    return out.getvalue()


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """The JPEG file of one RGB frame: a few KiB for a thumbnail, where a PNG of a
    real video's frame takes several times more."""
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


# -- GIF -------------------------------------------------------------------------------
def gif_frame_indexes(count: int, source_fps: Fraction, fps: Fraction) -> list[int]:
    """Which of ``count`` frames at ``source_fps`` to show at ``fps`` (at most the source's).

    Picked by time: output frame ``k`` shows the frame on screen at ``k / fps`` seconds,
    so the GIF lasts as long as the video (to within one output frame).
    """
    kept = math.ceil(count * fps / source_fps)
    return [min(count - 1, math.floor(k * source_fps / fps)) for k in range(kept)]


def _durations(count: int, fps: Fraction) -> list[int]:
    """Each frame's display time in ms, in the GIF's steps of 10 ms.

    A GIF stores whole hundredths of a second; rounding each frame alone would run a
    16 fps video at 16.7 fps (60 ms instead of 62.5 ms), so each frame ends on its own
    rounded end time (60, 70, 60, 60, 70, …): the total stays right.
    """
    ends = [round((k + 1) * 100 / fps) for k in range(count)]
    return [max(1, end - start) * 10 for start, end in zip([0, *ends], ends, strict=False)]


def _quantized(frames: list[np.ndarray]) -> list[Image.Image]:
    """The frames in 256 colours, all with one palette (no dithering).

    The palette is Pillow's fast octree over up to 8 frames spread through the video:
    one global colour table instead of one per frame, no colours flickering from frame
    to frame, and about ten times faster than Pillow's per-frame adaptive palettes
    (81 frames of 832×480: 0.5 s against 4–5 s, and 1.6 MiB against 3.1 MiB; see
    ``benchmarks/frames.py``).
    """
    step = max(1, len(frames) // 8)
    sample = Image.fromarray(np.concatenate(frames[::step][:8]), "RGB")
    palette = sample.quantize(256, method=Image.Quantize.FASTOCTREE)
    return [
        Image.fromarray(rgb, "RGB").quantize(palette=palette, dither=Image.Dither.NONE)
        for rgb in frames
    ]


def write_gif(source: Source, out: IO[bytes], *, width: int | None, fps: float | None) -> None:
    """Write the video to ``out`` as an animated GIF that loops forever."""
    total, source_fps, video_width, video_height = _header(source)
    target = source_fps if fps is None else Fraction(fps).limit_denominator(1000)
    if target > source_fps:
        raise ValueError(f"fps must be at most the video's ({float(source_fps):g}); got {fps!r}")
    size: dict[str, int] = {}
    if width is not None:
        size = {"width": width, "height": max(1, round(width * video_height / video_width))}
    picked = None
    if target != source_fps:
        picked = set(gif_frame_indexes(total or count_frames(source), source_fps, target))
    frames = [
        rgb
        for index, rgb in enumerate(_decoded(source, **size))
        if picked is None or index in picked
    ]
    if not frames:
        raise ValueError("the video has no frames")
    images = _quantized(frames)
    first, *rest = images
    first.save(
        out,
        format="GIF",
        save_all=True,
        append_images=rest,
        duration=_durations(len(images), target),
        loop=0,
    )


# -- a smaller MP4 ---------------------------------------------------------------------
class _Reader(io.RawIOBase):
    """A second, read-only view of the :class:`io.BytesIO` an MP4 is being written to.

    FFmpeg's ``faststart`` pass reopens its output by name to read it back while moving
    the media data; handed this through PyAV's ``io_open``, it reads the buffer itself.
    """

    def __init__(self, buffer: io.BytesIO):
        super().__init__()
        self._buffer = buffer
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        with self._buffer.getbuffer() as view:
            end = len(view) if size is None or size < 0 else self._position + size
            data = bytes(view[self._position : end])
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position}
        self._position = base.get(whence, len(self._buffer.getbuffer())) + offset
        return self._position

    def tell(self) -> int:
        return self._position


def resized_size(width: int, video_width: int, video_height: int) -> tuple[int, int]:
    """The even ``(width, height)`` nearest ``width`` wide that keeps the aspect ratio."""
    even_width = max(2, width - width % 2)
    return even_width, max(2, round(even_width * video_height / video_width / 2) * 2)


def encode_resized(source: Source, width: int) -> bytes:
    """The video re-encoded ``width`` wide (made even) as an H.264 MP4, in memory.

    The same frames at the same rate: each decoded frame is scaled in YUV (no RGB round
    trip) and encoded with ``libx264`` (CRF 23, preset veryfast) in ``yuv420p``, with the
    source's colour tags and ``movflags=+faststart``.
    """
    _, rate, video_width, video_height = _header(source)
    new_width, new_height = resized_size(width, video_width, video_height)
    time_base = 1 / rate
    buffer = io.BytesIO()
    with (
        _open(source) as reading,
        av.open(
            buffer,
            "w",
            format="mp4",
            options={"movflags": "+faststart"},
            io_open=lambda url, flags, options: _Reader(buffer),
        ) as writing,
    ):
        source_stream = reading.streams.video[0]
        source_stream.thread_type = "AUTO"
        stream = writing.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = new_width, new_height, "yuv420p"
        stream.time_base = time_base
        context, tags = stream.codec_context, source_stream.codec_context
        context.time_base = time_base
        context.colorspace, context.color_range = tags.colorspace, tags.color_range
        context.color_primaries, context.color_trc = tags.color_primaries, tags.color_trc
        context.options = {"preset": _PRESET, "crf": str(_CRF)}
        for index, frame in enumerate(reading.decode(source_stream)):
            scaled = frame.reformat(
                width=new_width, height=new_height, format="yuv420p", interpolation="AREA"
            )
            scaled.pts, scaled.time_base = index, time_base
            writing.mux(stream.encode(scaled))
        writing.mux(stream.encode(None))
    return buffer.getvalue()
