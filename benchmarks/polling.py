"""How fast does the client notice a finished job, and how many status reads does it cost?

Runs the local server's ``realistic`` profile (30–60 s queued, 60–120 s processing)
time-scaled, and for each strategy waits on the same number of jobs, five at a time:

- ``eco_widget``: the client's phase-aware schedule (``PollPolicy``, scaled the same);
- ``fixed 10 s``: the public document's example loop, scaled;
- ``fixed 1 s``: a tight loop, scaled.

Latency is the time between the server completing a job (its own record) and the
client returning it. Figures are printed in production seconds (divided by the scale).

    python benchmarks/polling.py [--jobs 10] [--scale 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from eco_widget import AsyncClient, Job, PollPolicy
from eco_widget.server import ServerConfig, ThreadedServer
from eco_widget.server._store import JobStore

STRATEGIES = ("eco_widget", "fixed 10 s", "fixed 1 s")


async def fixed_loop(client: AsyncClient, job: Job, interval: float) -> Job:
    """The naive wait: sleep, read, repeat."""
    while not job.is_terminal:
        await asyncio.sleep(interval)
        job = await client.get(job.id)
    return job


async def run_strategy(
    name: str, server: ThreadedServer, key: str, jobs: int, scale: float
) -> dict[str, float]:
    noticed: dict[str, float] = {}
    slots = asyncio.Semaphore(5)
    policy = PollPolicy().scaled(scale)

    async with AsyncClient(api_key=key, base_url=server.url, poll_policy=policy) as client:

        async def one(i: int) -> str:
            async with slots:
                job = await client.submit(f"benchmark scene {i}", num_frames=33, seed=i)
                if name == "eco_widget":
                    job = await client.wait(job)
                else:
                    interval = (10.0 if name == "fixed 10 s" else 1.0) * scale
                    job = await fixed_loop(client, job, interval)
                noticed[job.id] = time.time()
                return job.id

        ids = await asyncio.gather(*(one(i) for i in range(jobs)))

    store = JobStore(server.config.data_dir)
    try:
        latencies = []
        for job_id in ids:
            record = store.get(job_id)
            assert record is not None and record.completed_at is not None
            latencies.append((noticed[job_id] - record.completed_at) / scale)
    finally:
        store.close()
    gets = server.stats.for_key(key)["requests"]["job_gets"]
    latencies.sort()
    return {
        "mean": statistics.mean(latencies),
        "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
        "gets_per_job": gets / jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--scale", type=float, default=0.05)
    args = parser.parse_args()
    keys = {name: f"eco_bench_{i}" for i, name in enumerate(STRATEGIES)}
    with tempfile.TemporaryDirectory() as tmp:
        config = ServerConfig(
            api_keys=tuple(keys.values()),
            data_dir=Path(tmp),
            profile="realistic",
            time_scale=args.scale,
            seed=2024,
        )
        with ThreadedServer(config) as server:
            print(
                f"{args.jobs} jobs per strategy, 5 at a time, realistic profile × {args.scale} "
                "(figures in production seconds)"
            )
            print(f"{'strategy':<12} {'mean latency':>13} {'p95 latency':>12} {'GETs/job':>9}")
            for name in STRATEGIES:
                row = asyncio.run(run_strategy(name, server, keys[name], args.jobs, args.scale))
                print(
                    f"{name:<12} {row['mean']:>11.2f} s {row['p95']:>10.2f} s "
                    f"{row['gets_per_job']:>9.1f}"
                )


if __name__ == "__main__":
    main()
