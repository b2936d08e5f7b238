"""How long the sandbox renderer takes, split into drawing frames and encoding them.

Run it as ``python benchmarks/render.py``: it prints the median of a few runs for 33 and
81 frames at 832×480, and the size of each MP4. It asserts nothing about time.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import TypeVar

# The checkout itself, for running the script before the package is installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eco_widget._params import VideoParams
from eco_widget.server._mp4 import encode_mp4
from eco_widget.server._sandbox_render import render_sandbox_video, sandbox_frames

WIDTH, HEIGHT = 832, 480
RUNS = 5
PROMPT = "A red fox running through a snowy forest at dawn, cinematic lighting"

T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Run ``action`` once; return the seconds it took and its result."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median_time(action: Callable[[], T]) -> tuple[float, T]:
    """The median seconds of ``RUNS`` runs of ``action``, and its last result."""
    runs = [timed(action) for _ in range(RUNS)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


def benchmark(num_frames: int) -> None:
    """Print the timings and size for one frame count."""
    params = VideoParams.create(PROMPT, num_frames=num_frames, fps=16, seed=1234)
    draw, frames = median_time(lambda: list(sandbox_frames(params, width=WIDTH, height=HEIGHT)))
    encode, _ = median_time(lambda: encode_mp4(frames, fps=16, width=WIDTH, height=HEIGHT))
    total, video = median_time(lambda: render_sandbox_video(params, width=WIDTH, height=HEIGHT))
    print(
        f"{num_frames:3d} frames  total {total:6.3f} s  "
        f"(draw {draw:6.3f} s = {draw / num_frames * 1000:5.1f} ms/frame, "
        f"encode {encode:6.3f} s)  mp4 {len(video) / 1024:7.1f} KiB"
    )


def main() -> None:
    """Benchmark 33 and 81 frames."""
    print(
        f"sandbox render at {WIDTH}×{HEIGHT}, 16 fps, median of {RUNS} runs, {os.cpu_count()} CPUs"
    )
    for num_frames in (33, 81):
        benchmark(num_frames)


if __name__ == "__main__":
    main()
