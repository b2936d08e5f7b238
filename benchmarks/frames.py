"""How long a video takes to become data: frames, a poster, a GIF, a smaller MP4.

Run it as ``python benchmarks/frames.py``: it renders an 81-frame 832×480 sandbox clip
(16 fps), then prints the median of a few runs of ``Video.frames()`` against the naive
way (PyAV's per-frame ``to_image()``, ``np.asarray`` and ``np.stack``) in the same run,
how far each raises the process's peak resident memory (one more run; Linux's
``/proc/self/clear_refs``), and the times of ``poster()``, ``to_gif()`` (against
Pillow's default per-frame palettes) and ``resized()``. It asserts nothing about time.
"""

from __future__ import annotations

import gc
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from PIL import Image

# The checkout itself, for running the script before the package is installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eco_widget import Video
from eco_widget._models import Job
from eco_widget._params import VideoParams
from eco_widget.server._sandbox_render import render_sandbox_video

WIDTH, HEIGHT, NUM_FRAMES, FPS = 832, 480, 81, 16
RUNS = 5
PROMPT = "A red fox running through a snowy forest at dawn, cinematic lighting"

T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Run ``action`` once; return the seconds it took and its result."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median_time(action: Callable[[], T], runs: int = RUNS) -> tuple[float, T]:
    """The median seconds of ``runs`` runs of ``action``, and its last result."""
    results = [timed(action) for _ in range(runs)]
    return statistics.median(seconds for seconds, _ in results), results[-1][1]


def _status_mib(field: str) -> float:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise LookupError(field)


def peak_mib(action: Callable[[], object]) -> float:
    """How far the process's resident memory rose while ``action`` ran (Linux): NumPy's,
    Pillow's and FFmpeg's buffers alike, which tracemalloc would not all see."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak (VmHWM) to the current resident size
    before = _status_mib("VmRSS")
    action()
    return _status_mib("VmHWM") - before


def naive_frames(data: bytes) -> np.ndarray:
    """The usual first attempt: a PIL image per frame, each made an array, then stacked."""
    with av.open(io.BytesIO(data), "r") as container:
        return np.stack([np.asarray(frame.to_image()) for frame in container.decode(video=0)])


def naive_gif(frames: np.ndarray, path: Path) -> None:
    """Pillow's default: RGB frames handed over as they are, one adaptive palette each."""
    images = [Image.fromarray(rgb) for rgb in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=62, loop=0)


def interleaved(actions: dict[str, Callable[[], object]], runs: int = RUNS) -> dict[str, float]:
    """The median seconds of each action, run in turn ``runs`` times: A B C A B C …, so a
    busy machine slows each of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            seconds[name].append(timed(action)[0])
    return {name: statistics.median(values) for name, values in seconds.items()}


def single_threaded(video: Video) -> Callable[[], object]:
    """``video.frames()`` with FFmpeg's decoder held to one thread."""

    def run() -> object:
        with av.open(io.BytesIO(video.data), "r") as container:
            container.streams.video[0].thread_count = 1
            return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode()])

    return run


def main() -> None:
    params = VideoParams.create(PROMPT, num_frames=NUM_FRAMES, fps=FPS, seed=1234)
    data = render_sandbox_video(params, width=WIDTH, height=HEIGHT)
    video = Video(Job(id="vid_benchmark", status="completed", params=params), data=data)
    print(
        f"{NUM_FRAMES} frames of {WIDTH}×{HEIGHT} at {FPS} fps ({len(data) / 1024:.0f} KiB MP4), "
        f"median of {RUNS} interleaved runs, {os.cpu_count()} CPUs"
    )
    frames = video.frames()  # also the first use: imports and set-up, not measured
    assert np.array_equal(frames, naive_frames(data)), "both ways must decode the same pixels"
    print(f"array {frames.shape} {frames.dtype}: {frames.nbytes / 2**20:.1f} MiB")

    ways: dict[str, Callable[[], object]] = {
        "Video.frames()": video.frames,
        "naive to_image() + asarray + stack": lambda: naive_frames(data),
        "to_ndarray() + stack, one decoder thread": single_threaded(video),
    }
    medians = interleaved(ways)
    ours = medians["Video.frames()"]
    for name, action in ways.items():
        print(
            f"  {name:42s} {medians[name]:6.3f} s  ({medians[name] / ours:.1f}×)  "
            f"peak {peak_mib(action):6.1f} MiB"
        )

    others = interleaved({"frame(-1)": lambda: video.frame(-1), "poster()": video.poster})
    print("  ".join(f"{name} {seconds:6.3f} s" for name, seconds in others.items()))

    with tempfile.TemporaryDirectory() as folder:
        gif = Path(folder) / "clip.gif"
        small_gif = Path(folder) / "small.gif"
        naive_path = Path(folder) / "naive.gif"
        gifs = interleaved(
            {
                "to_gif()": lambda: video.to_gif(gif),
                "to_gif(width=416, fps=8)": lambda: video.to_gif(small_gif, width=416, fps=8),
                "naive GIF (frames(), Pillow's default)": lambda: naive_gif(frames, naive_path),
            },
            3,
        )
        for (name, seconds), path in zip(gifs.items(), (gif, small_gif, naive_path), strict=True):
            print(f"{name:42s} {seconds:6.3f} s  {path.stat().st_size / 2**20:5.2f} MiB GIF")
    sizes = {width: len(video.resized(width).data) / 1024 for width in (416, 256)}
    resizes = interleaved({f"resized({w})": partial(video.resized, w) for w in sizes}, 3)
    for (name, seconds), kib in zip(resizes.items(), sizes.values(), strict=True):
        print(f"{name:42s} {seconds:6.3f} s  {kib:5.0f} KiB MP4")


if __name__ == "__main__":
    main()
