"""The sandbox renderer and the MP4 encoder, checked by decoding what they produce."""

from __future__ import annotations

import functools
import io
import os
import struct
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import numpy as np
import pytest

from eco_widget._params import VideoParams
from eco_widget.server._mp4 import encode_mp4
from eco_widget.server._sandbox_render import (
    render_sandbox_video,
    sandbox_frames,
    text_overlay,
)

WIDTH, HEIGHT = 832, 480
PROMPT = "A red fox running through a snowy forest at dawn, cinematic lighting"


@dataclass(frozen=True)
class Probe:
    """What a decoder sees in an MP4 file."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    stream_frames: int
    average_rate: Fraction
    duration: Fraction
    container_duration_us: int
    frames: tuple[np.ndarray, ...]
    times: tuple[Fraction, ...]


def probe(data: bytes) -> Probe:
    """Decode every frame of ``data`` (as RGB) and read the stream's metadata."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(frame.pts * stream.time_base)
        return Probe(
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            stream_frames=stream.frames,
            average_rate=stream.average_rate,
            duration=stream.duration * stream.time_base,
            container_duration_us=container.duration,
            frames=tuple(frames),
            times=tuple(times),
        )


def top_level_boxes(data: bytes) -> list[str]:
    """The types of the top-level boxes of an MP4 file, in file order."""
    kinds, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        elif size == 0:
            size = len(data) - offset
        assert size >= 8
        kinds.append(kind.decode("ascii"))
        offset += size
    assert offset == len(data)
    return kinds


def params(
    prompt: str = PROMPT, *, num_frames: int = 33, fps: int = 16, seed: int = 1234
) -> VideoParams:
    """Validated parameters with a seed."""
    return VideoParams.create(prompt, num_frames=num_frames, fps=fps, seed=seed)


@functools.cache
def rendered(video: VideoParams) -> bytes:
    """The sandbox MP4 of ``video``, rendered once per test session."""
    return render_sandbox_video(video)


@functools.cache
def probed(video: VideoParams) -> Probe:
    """The decoded sandbox MP4 of ``video``, decoded once per test session."""
    return probe(rendered(video))


def mean_difference(a: Iterable[np.ndarray], b: Iterable[np.ndarray]) -> float:
    """Mean absolute pixel difference over paired frames."""
    return float(
        np.mean([np.abs(x.astype(np.int16) - y).mean() for x, y in zip(a, b, strict=True)])
    )


@pytest.mark.parametrize("num_frames", [1, 17, 33, 81])
def test_every_requested_frame_is_in_the_video(num_frames: int) -> None:
    info = probed(params(num_frames=num_frames))
    assert len(info.frames) == num_frames
    assert info.stream_frames == num_frames


@pytest.mark.parametrize(("num_frames", "fps"), [(33, 16), (10, 7), (81, 16), (1, 16), (17, 60)])
def test_frame_rate_and_duration_are_exact(num_frames: int, fps: int) -> None:
    info = probed(params(num_frames=num_frames, fps=fps))
    assert info.average_rate == fps
    assert info.duration == Fraction(num_frames, fps)
    assert info.container_duration_us == pytest.approx(num_frames / fps * 1e6, abs=1)
    assert info.times == tuple(Fraction(index, fps) for index in range(num_frames))


def test_thirty_three_frames_at_sixteen_fps_last_2_0625_seconds() -> None:
    assert float(probed(params(num_frames=33, fps=16)).duration) == 2.0625


def test_stream_is_browser_playable_h264() -> None:
    info = probed(params())
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert all(frame.shape == (HEIGHT, WIDTH, 3) for frame in info.frames)


def test_index_comes_before_media_data() -> None:
    boxes = top_level_boxes(rendered(params()))
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_same_parameters_give_identical_bytes() -> None:
    video = params(num_frames=17)
    assert render_sandbox_video(video) == render_sandbox_video(video)


def test_encoding_ignores_leftover_memory() -> None:
    frames = list(sandbox_frames(params(num_frames=17)))

    def interleaved_with_garbage() -> Iterator[np.ndarray]:
        held = []
        for frame in frames:
            held.append(os.urandom(len(held) * 150_000 + 1000))
            yield frame

    first = encode_mp4(interleaved_with_garbage(), fps=16, width=WIDTH, height=HEIGHT)
    second = encode_mp4(interleaved_with_garbage(), fps=16, width=WIDTH, height=HEIGHT)
    assert first == second == encode_mp4(frames, fps=16, width=WIDTH, height=HEIGHT)


def test_decoded_video_matches_the_drawn_frames() -> None:
    video = params(num_frames=17)
    drawn = list(sandbox_frames(video))
    assert mean_difference(probed(video).frames, drawn) < 4


def test_another_seed_gives_other_frames() -> None:
    one = probed(params(num_frames=17, seed=1))
    other = probed(params(num_frames=17, seed=2))
    assert mean_difference(one.frames, other.frames) > 10


def test_another_prompt_gives_other_frames() -> None:
    one = probed(params("a lighthouse on a cliff", num_frames=17))
    other = probed(params("a field of sunflowers", num_frames=17))
    assert mean_difference(one.frames, other.frames) > 10


def test_frames_move() -> None:
    frames = probed(params(num_frames=33)).frames
    assert np.abs(frames[0].astype(np.int16) - frames[-1]).mean() > 0.5


def test_guidance_and_steps_are_part_of_the_picture() -> None:
    video = params(num_frames=1)
    base = probed(video).frames[0]
    assert mean_difference([probed(replace(video, guidance_scale=7.5)).frames[0]], [base]) > 1
    assert mean_difference([probed(replace(video, num_inference_steps=30)).frames[0]], [base]) > 1


def test_a_seed_is_required() -> None:
    unseeded = VideoParams.create(PROMPT, num_frames=5)
    assert unseeded.seed is None
    with pytest.raises(ValueError, match="seed"):
        render_sandbox_video(unseeded)


def test_progress_rises_to_one() -> None:
    reported: list[float] = []
    render_sandbox_video(params(num_frames=17), progress=reported.append)
    assert len(reported) == 17
    assert all(0 < value <= 1 for value in reported)
    assert reported == sorted(reported)
    assert len(set(reported)) == len(reported)
    assert reported[-1] == 1.0


def test_an_exception_from_progress_stops_the_render() -> None:
    class Cancelled(Exception):
        pass

    def cancel_halfway(fraction: float) -> None:
        if fraction >= 0.5:
            raise Cancelled

    with pytest.raises(Cancelled):
        render_sandbox_video(params(num_frames=9), progress=cancel_halfway)


def test_overlay_shows_the_prompt_and_the_label() -> None:
    overlay = text_overlay("a cat on a skateboard", 1234, WIDTH, HEIGHT)
    assert overlay.shape == (HEIGHT, WIDTH, 4)
    assert overlay.dtype == np.uint8
    alpha = overlay[..., 3]
    top_left, bottom_right = alpha[: HEIGHT // 4, : WIDTH // 2], alpha[-HEIGHT // 8 :, WIDTH // 2 :]
    assert (top_left > 0).sum() > 2000
    assert (bottom_right > 0).sum() > 2000
    white = (overlay[..., :3].min(axis=2) > 200) & (alpha > 200)
    assert white[: HEIGHT // 4].sum() > 300
    assert not alpha[HEIGHT // 3 : -HEIGHT // 6].any()


def test_overlay_grows_with_the_prompt_up_to_three_lines() -> None:
    def rows(prompt: str) -> int:
        alpha = text_overlay(prompt, 1, WIDTH, HEIGHT)[: HEIGHT // 2, ..., 3]
        return int(alpha.any(axis=1).sum())

    short = rows("a cat")
    longer = rows("a cat " * 20)
    longest = rows("a cat " * 300)
    assert short < longer < longest
    assert longest == rows("word " * 400) == rows("x" * 2000)


def test_overlay_text_differs_with_the_prompt_and_seed() -> None:
    one = text_overlay("a cat", 1, WIDTH, HEIGHT)
    assert not np.array_equal(one, text_overlay("a dog", 1, WIDTH, HEIGHT))
    assert not np.array_equal(one, text_overlay("a cat", 2, WIDTH, HEIGHT))


def test_prompt_is_visible_in_the_decoded_video() -> None:
    frame = probed(params(num_frames=1)).frames[0]
    panel = frame[: HEIGHT // 4, : WIDTH // 2]
    assert (panel.min(axis=2) > 200).sum() > 300


def test_small_sizes_render() -> None:
    info = probe(render_sandbox_video(params(num_frames=3), width=160, height=96))
    assert (info.width, info.height, len(info.frames)) == (160, 96, 3)


def test_encoder_rejects_bad_input() -> None:
    frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="no frames"):
        encode_mp4([], fps=16, width=WIDTH, height=HEIGHT)
    with pytest.raises(ValueError, match="even"):
        encode_mp4([frame], fps=16, width=WIDTH + 1, height=HEIGHT)
    with pytest.raises(ValueError, match="fps"):
        encode_mp4([frame], fps=0, width=WIDTH, height=HEIGHT)
    with pytest.raises(ValueError, match="frame 1"):
        encode_mp4([frame, frame[:, :, :2]], fps=16, width=WIDTH, height=HEIGHT)
    with pytest.raises(ValueError, match="frame 0"):
        encode_mp4([frame.astype(np.float32)], fps=16, width=WIDTH, height=HEIGHT)


def test_encoder_keeps_given_frames() -> None:
    rng = np.random.default_rng(0)
    colours = rng.integers(40, 216, size=(5, 3))
    frames = [np.broadcast_to(c, (64, 96, 3)).astype(np.uint8) for c in colours]
    info = probe(encode_mp4(frames, fps=5, width=96, height=64))
    assert len(info.frames) == 5
    for decoded, colour in zip(info.frames, colours, strict=True):
        assert np.abs(decoded.reshape(-1, 3).mean(axis=0) - colour).max() < 3


def test_importing_the_package_does_not_import_the_sandbox_extras() -> None:
    code = (
        "import sys, eco_widget; "
        "print(sorted({'numpy', 'av', 'PIL'} & {m.split('.')[0] for m in sys.modules}))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        timeout=120,
    )
    assert result.stdout.strip() == "[]"
