"""Seconds per job and peak memory of the local Wan2.1 backend.

Where CUDA and the real weights exist (``--model`` a folder or the Hugging Face id), it
times 33 and 81 frames at 50 steps, 832x480, and reports the peak VRAM. Anywhere else
(``--tiny``) it builds the tiny random-weight pipeline the tests use and times that, on
the GPU when there is one, else on the CPU — the plumbing's cost, not the model's.

Each size runs twice: through ``WanRenderer`` (the model loaded once, as the server
keeps it) and the naive way, loading the pipeline for every job.

    python benchmarks/wan_gpu.py --model ~/models/wan2.1-t2v-1.3b
    python benchmarks/wan_gpu.py --tiny --size 112x64 --steps 20
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eco_widget import VideoParams
from eco_widget._local_engine import parse_size
from eco_widget.server import WanRenderer


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a diffusers folder or Hugging Face id")
    parser.add_argument("--tiny", action="store_true", help="time the tiny random pipeline")
    parser.add_argument("--size", default="832x480", help="WxH, multiples of 16")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--frames", type=int, nargs="+", default=[33, 81])
    args = parser.parse_args()

    import torch

    width, height = parse_size(args.size)
    cuda = torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny or args.model is None:
            from tests.wan_tiny import build_tiny_wan

            model, kind = str(build_tiny_wan(Path(tmp) / "tiny")), "tiny random-weight pipeline"
        else:
            model, kind = args.model, "Wan2.1 T2V 1.3B weights"
        device = torch.cuda.get_device_name(0) if cuda else "CPU (no CUDA)"
        print(
            f"{kind} on {device}, {width}x{height}, {args.steps} steps, torch {torch.__version__}"
        )

        start = time.perf_counter()
        renderer = WanRenderer(model, width=width, height=height)
        renderer.load()
        load = time.perf_counter() - start
        offload = " (CPU offload: the GPU has less than 16 GB)" if renderer.offloaded else ""
        print(f"model load: {load:.1f} s{offload}")
        for frames in args.frames:
            params = VideoParams.create(
                "a red balloon floating over a mountain at dawn",
                num_frames=frames,
                num_inference_steps=args.steps,
                seed=1,
            )
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            data = renderer.render(params, lambda fraction: None)
            seconds = time.perf_counter() - start
            memory = (
                f"peak VRAM {torch.cuda.max_memory_allocated() / 1024**3:.2f} GiB"
                if cuda
                else f"peak RSS {peak_rss_mib():.0f} MiB"
            )
            start = time.perf_counter()
            naive = WanRenderer(model, width=width, height=height)
            naive.render(params, lambda fraction: None)
            naive_seconds = time.perf_counter() - start
            del naive
            print(
                f"{frames:3d} frames: {seconds:7.1f} s per job, {memory}, "
                f"{len(data) / 1024:.0f} KiB MP4; naive (load per job): {naive_seconds:7.1f} s"
            )


if __name__ == "__main__":
    main()
