"""Videos as data: frames, a poster, GIFs and resized MP4s of real sandbox videos.

The videos come from the real local server through :class:`eco_widget.Client`; the
sandbox renderer draws the same frames again from the job's parameters, which is what
the decoded pixels are compared with (H.264 is lossy: by mean absolute difference).
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from eco_widget import Client, Video
from eco_widget.server import SandboxRenderer
from eco_widget.server._sandbox_render import sandbox_frames
from tests.conftest import FAST_POLL, KEY

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 320, 192
NUM_FRAMES, FPS = 9, 4  # a low rate: the scene moves far enough between frames to tell them apart
#: Mean absolute difference (0–255) allowed between a decoded frame and the drawn one.
TOLERANCE = 3.0


@pytest.fixture
def video(make_server, tmp_path_factory) -> Video:
    server = make_server(
        renderer=SandboxRenderer(width=WIDTH, height=HEIGHT),
        data_dir=tmp_path_factory.mktemp("server"),  # tmp_path stays for what a test writes
    )
    with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
        return client.generate("a red balloon", num_frames=NUM_FRAMES, fps=FPS, seed=7)


def drawn(video: Video) -> np.ndarray:
    """The renderer's own frames of ``video``, before encoding."""
    assert video.job.params is not None
    return np.stack(list(sandbox_frames(video.job.params, width=WIDTH, height=HEIGHT)))


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def top_level_boxes(data: bytes) -> list[str]:
    kinds, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        kinds.append(kind.decode("ascii"))
        offset += size
    return kinds


def no_temporary_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every way :mod:`tempfile` makes a file or folder fail."""

    def refuse(*args, **kwargs):
        raise AssertionError("a temporary file was made")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)


def gif_frames(path: Path) -> tuple[Image.Image, list[np.ndarray], list[int]]:
    """The GIF, its frames as RGB arrays and each frame's duration (ms)."""
    image = Image.open(path)
    frames, durations = [], []
    for number in range(image.n_frames):
        image.seek(number)
        frames.append(np.asarray(image.convert("RGB")))
        durations.append(image.info["duration"])
    return image, frames, durations


# -- frames -------------------------------------------------------------------------------
def test_frames_are_one_rgb_array_of_every_frame(video):
    frames = video.frames()
    assert isinstance(frames, np.ndarray)
    assert frames.shape == (NUM_FRAMES, HEIGHT, WIDTH, 3)
    assert frames.dtype == np.uint8


def test_each_decoded_frame_is_the_one_the_renderer_drew(video):
    frames, expected = video.frames(), drawn(video)
    for index in range(NUM_FRAMES):
        assert difference(frames[index], expected[index]) < TOLERANCE
        nearest = min(range(NUM_FRAMES), key=lambda j: difference(frames[index], expected[j]))
        assert nearest == index
    # The check tells frames apart: another frame of the same video is outside it.
    assert difference(frames[0], expected[-1]) > TOLERANCE
    assert difference(frames[-1], expected[0]) > TOLERANCE


def test_a_saved_video_decodes_from_its_file_the_same(video, tmp_path, monkeypatch):
    in_memory = video.frames()
    on_disk = Video(video.job, path=video.save(tmp_path / "clip.mp4"))
    no_temporary_files(monkeypatch)
    assert np.array_equal(on_disk.frames(), in_memory)
    assert np.array_equal(on_disk.frame(-1), in_memory[-1])
    assert on_disk._data is None  # read from the file, not loaded into memory


def test_frame_picks_one_frame_and_counts_from_the_end(video):
    frames = video.frames()
    assert np.array_equal(video.frame(-1), frames[-1])
    assert np.array_equal(video.frame(0), frames[0])
    assert np.array_equal(video.frame(5), frames[5])
    assert np.array_equal(video.frame(-NUM_FRAMES), frames[0])
    for index in (NUM_FRAMES, -NUM_FRAMES - 1):
        with pytest.raises(IndexError, match=f"has {NUM_FRAMES} frames"):
            video.frame(index)
    with pytest.raises(TypeError):
        video.frame(1.5)


def test_poster_is_a_png_of_the_middle_frame(video):
    data = video.poster()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) and image.mode == "RGB"
    assert np.array_equal(np.asarray(image), video.frame(NUM_FRAMES // 2))


def test_poster_width_scales_the_middle_frame_keeping_the_aspect_ratio(video):
    image = Image.open(io.BytesIO(video.poster(width=96)))
    assert image.format == "PNG" and image.size == (96, round(96 * HEIGHT / WIDTH))
    middle = Image.fromarray(video.frame(NUM_FRAMES // 2)).resize(image.size)
    last = Image.fromarray(video.frame(-1)).resize(image.size)
    assert difference(np.asarray(image), np.asarray(middle)) < TOLERANCE
    assert difference(np.asarray(image), np.asarray(last)) > TOLERANCE
    for bad in (0, -5):
        with pytest.raises(ValueError, match="at least 1"):
            video.poster(width=bad)
    with pytest.raises(TypeError):
        video.poster(width=9.5)


# -- GIF ----------------------------------------------------------------------------------
def test_gif_has_every_frame_at_the_video_size_and_loops_forever(video, tmp_path):
    path = video.to_gif(tmp_path / "clip.gif")
    assert path == tmp_path / "clip.gif"
    image, frames, durations = gif_frames(path)
    assert image.format == "GIF" and image.n_frames == NUM_FRAMES
    assert image.size == (WIDTH, HEIGHT)
    assert image.info["loop"] == 0
    assert durations == [1000 // FPS] * NUM_FRAMES
    decoded = video.frames()
    for gif, frame in zip(frames, decoded, strict=True):
        assert difference(gif, frame) < TOLERANCE  # 256 colours, one palette
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif"]


def test_a_lower_gif_rate_keeps_fewer_frames_picked_by_time(video, tmp_path):
    image, frames, durations = gif_frames(video.to_gif(tmp_path / "slow.gif", fps=3))
    # 9 frames at 4 fps last 2.25 s; at 3 fps, frames at 0, 1/3, 2/3 … 2 s: seven.
    assert image.n_frames == 7
    decoded = video.frames()
    shown = [min(range(NUM_FRAMES), key=lambda j: difference(f, decoded[j])) for f in frames]
    assert shown == [0, 1, 2, 4, 5, 6, 8]  # the frame on screen at k / 3 s
    # 1/3 s each, in steps of 10 ms that add up: 330, 340, 330, …
    assert durations == [330, 340, 330, 330, 340, 330, 330]


def test_gif_width_keeps_the_aspect_ratio_odd_sizes_included(video, tmp_path):
    image = Image.open(video.to_gif(tmp_path / "small.gif", width=101))
    assert image.size == (101, round(101 * HEIGHT / WIDTH)) == (101, 61)
    assert image.n_frames == NUM_FRAMES


def test_gif_into_a_folder_is_named_after_the_video(video, tmp_path):
    assert video.to_gif(tmp_path) == tmp_path / "a-red-balloon-s7.gif"
    made = video.to_gif(f"{tmp_path / 'gifs'}/")
    assert made == tmp_path / "gifs" / "a-red-balloon-s7.gif"
    assert Image.open(made).n_frames == NUM_FRAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-red-balloon-s7.gif", "gifs"]


def test_gif_refuses_a_rate_above_the_videos_and_leaves_nothing(video, tmp_path):
    with pytest.raises(ValueError, match="at most the video's"):
        video.to_gif(tmp_path / "fast.gif", fps=FPS + 1)
    with pytest.raises(ValueError, match="width"):
        video.to_gif(tmp_path / "none.gif", width=0)
    assert list(tmp_path.iterdir()) == []


# -- resized ------------------------------------------------------------------------------
def test_resized_is_a_smaller_mp4_in_memory_with_the_same_frames(video, tmp_path, monkeypatch):
    no_temporary_files(monkeypatch)
    small = video.resized(161)  # odd: made even
    assert isinstance(small, Video) and small is not video
    assert small.job is video.job and small.path is None
    data = small.data
    assert data[4:8] == b"ftyp"
    boxes = top_level_boxes(data)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    assert len(data) < len(video.data)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == FPS
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 96)
    frames = small.frames()
    assert frames.shape == (NUM_FRAMES, 96, 160, 3)
    # The same pictures, smaller: each is near the original frame scaled down.
    originals = video.frames()
    for index in (0, NUM_FRAMES - 1):
        scaled = np.asarray(Image.fromarray(originals[index]).resize((160, 96), Image.BOX))
        assert difference(frames[index], scaled) < TOLERANCE + 1
    assert difference(frames[0], frames[-1]) > TOLERANCE + 1


def test_a_resized_video_takes_the_path_it_is_saved_to(video, tmp_path):
    small = video.resized(96)
    assert small.path is None
    saved = small.save(tmp_path)
    assert saved == tmp_path / "a-red-balloon-s7.mp4" and small.path == saved
    assert Video(video.job, path=saved).frames().shape == (NUM_FRAMES, 58, 96, 3)
    assert video.path != saved  # the original keeps its own file
    with pytest.raises(ValueError, match="at least 2"):
        video.resized(1)


# -- without the extra ----------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["av", "numpy", "PIL"])
def test_without_the_media_extra_the_error_names_it(video, tmp_path, monkeypatch, missing):
    monkeypatch.delitem(sys.modules, "eco_widget._media", raising=False)
    monkeypatch.setitem(sys.modules, missing, None)
    for call in (
        video.frames,
        lambda: video.frame(0),
        video.poster,
        lambda: video.to_gif(tmp_path / "clip.gif"),
        lambda: video.resized(100),
    ):
        with pytest.raises(ImportError, match=r"pip install 'eco_widget\[media\]'") as caught:
            call()
        assert caught.value.name == missing
        assert missing in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_importing_the_package_loads_no_media_code():
    code = (
        "import sys, eco_widget\n"
        "from eco_widget._models import Job\n"
        "video = eco_widget.Video(Job(id='vid_a', status='completed'), data=b'')\n"
        "repr(video), video.size\n"
        "print(sorted({'eco_widget._media', 'numpy', 'av', 'PIL'} & set(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
