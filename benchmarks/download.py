"""Memory and speed of saving a video to a path, against the naive alternatives.

For a real 81-frame sandbox video and for a 64 MiB stand-in (the same job's file on the
server replaced by a bigger one, to show how memory scales), prints:

- peak Python memory allocated during the download (tracemalloc), for
  ``client.download(job, path)`` (streams to a temporary file, renames into place),
  ``client.download(job)`` (bytes in memory) and the naive
  ``open(path, "wb").write(httpx.get(url).content)``;
- throughput of each, next to copying the server's file directly (``shutil.copyfile``).

    python benchmarks/download.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx

from eco_widget import Client, Job
from eco_widget.server import ServerConfig, ThreadedServer
from eco_widget.server._store import JobStore

KEY = "eco_bench_download"
REPEATS = 3


def measure(action: Callable[[], object]) -> tuple[float, float]:
    """(peak MiB allocated, seconds), best of a few runs."""
    peaks, times = [], []
    for _ in range(REPEATS):
        tracemalloc.start()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return min(peaks), statistics.median(times)


def report(label: str, size: int, client: Client, job: Job, source: Path, out: Path) -> None:
    mib = size / 2**20
    print(f"\n{label}: {mib:.2f} MiB")
    print(f"  {'method':<34} {'peak memory':>12} {'throughput':>12}")
    rows = {
        "client.download(job, path)": lambda: client.download(job, out / "a.mp4"),
        "client.download(job) -> bytes": lambda: client.download(job),
        "naive httpx.get(url).content": lambda: (out / "b.mp4").write_bytes(
            httpx.get(job.video_url).content
        ),
        "shutil.copyfile (no network)": lambda: shutil.copyfile(source, out / "c.mp4"),
    }
    for name, action in rows.items():
        peak, seconds = measure(action)
        print(f"  {name:<34} {peak:>8.2f} MiB {mib / seconds:>8.0f} MiB/s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, out = Path(tmp) / "server", Path(tmp) / "out"
        out.mkdir()
        config = ServerConfig(api_keys=(KEY,), data_dir=data_dir, profile="instant")
        with ThreadedServer(config) as server, Client(api_key=KEY, base_url=server.url) as client:
            job = client.wait(client.submit("a long download", num_frames=81, seed=1))
            store = JobStore(data_dir)
            source = store.video_path(job.id)
            store.close()
            report("81-frame sandbox video", source.stat().st_size, client, job, source, out)
            # The same job, its file swapped for a bigger one: memory should not follow.
            with source.open("wb") as big:
                for _ in range(64):
                    big.write(os.urandom(2**20))
            report("64 MiB stand-in", source.stat().st_size, client, job, source, out)


if __name__ == "__main__":
    main()
