"""Soak: many jobs on several keys through a server that injects faults, then processes
killed mid-wait and resumed.

1. ``--jobs`` jobs spread over ``--keys`` keys, one ``AsyncClient.generate_many`` batch
   per key, all at once, against the local server with a share of its GETs failing
   (500/503), connections dropped mid-body, and bursts of 429 on job reads. Prints the
   faults injected by kind (the server's counters), the videos saved and decoded with
   PyAV (right frame count), the POSTs per job, the 429s waited out, the journal's state
   and the wall time.
2. ``--kill`` processes each start ``Client.generate`` and are SIGKILLed as soon as their
   job is submitted; one ``Client.resume()`` then recovers what it can. Prints videos
   recovered / jobs killed.

    python benchmarks/soak.py --jobs 50 --keys 3 --error-rate 0.3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import eco_widget
from eco_widget import AsyncClient, Client, Journal, PollPolicy
from eco_widget.server import FaultConfig, ServerConfig, ThreadedServer

REPO = Path(eco_widget.__file__).resolve().parent.parent
#: Poll priors for the ``instant`` and ``fast`` profiles.
POLL = PollPolicy(
    first_poll=0.02,
    min_interval=0.02,
    max_interval=0.2,
    expected_queue=0.05,
    processing_min=0.1,
    processing_max=0.3,
)
CHILD = """
import json, sys
from eco_widget import Client, PollPolicy

def told(job):
    print(json.dumps({"id": job.id, "seed": job.seed}), flush=True)

poll = PollPolicy(first_poll=0.05, min_interval=0.05, max_interval=0.2)
with Client(api_key=sys.argv[2], base_url=sys.argv[1], poll_policy=poll) as client:
    client.generate(sys.argv[3], num_frames=5, num_inference_steps=20, on_update=told)
"""


def frames(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def items(key_index: int, jobs: int, keys: int, max_frames: int) -> list[dict]:
    return [
        {
            "prompt": f"soak key {key_index} item {i}",
            "num_frames": 1 + (i % max_frames),
            "num_inference_steps": 20,
            "seed": i,
        }
        for i in range(key_index, jobs, keys)
    ]


async def run_batches(url: str, keys: list[str], plans: list[list[dict]], retries: int):
    clients = [
        AsyncClient(api_key=key, base_url=url, poll_policy=POLL, max_retries=retries)
        for key in keys
    ]
    try:
        return await asyncio.gather(
            *(
                client.generate_many(plan, progress=False)
                for client, plan in zip(clients, plans, strict=True)
            )
        )
    finally:
        for client in clients:
            await client.aclose()


def soak(args: argparse.Namespace, faults: FaultConfig, work: Path) -> None:
    keys = [f"eco_soak_{k}" for k in range(args.keys)]
    plans = [items(k, args.jobs, args.keys, args.max_frames) for k in range(args.keys)]
    config = ServerConfig(
        api_keys=tuple(keys), data_dir=work / "server", profile="instant", faults=faults, seed=1
    )
    with ThreadedServer(config) as server:
        start = time.perf_counter()
        results = asyncio.run(run_batches(server.url, keys, plans, args.max_retries))
        wall = time.perf_counter() - start
        totals = server.stats.totals()
        posts_by_key = [server.stats.for_key(key)["requests"]["posts"] for key in keys]

    saved = decoded = 0
    for plan, result in zip(plans, results, strict=True):
        for item, video in zip(plan, result, strict=True):
            if video is None or video.path is None or not video.path.exists():
                continue
            saved += 1
            decoded += frames(video.path) == item["num_frames"]
    failed = sum(len(result.errors) for result in results)
    journal = Journal()
    entries = journal.entries()
    whole = sum(entry.is_saved for entry in entries)
    conn = sqlite3.connect(journal.path)
    check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()

    print(f"jobs {args.jobs} on {args.keys} keys; wall time {wall:.1f} s")
    print(
        "faults injected: "
        + ", ".join(f"{kind} {count}" for kind, count in totals["faults"].items())
    )
    requests = totals["requests"]
    print(
        f"requests: {requests['posts']} POSTs ({requests['posts'] / args.jobs:.2f} per job; "
        f"by key {posts_by_key}), {requests['job_gets']} job GETs, "
        f"{requests['video_gets']} video GETs"
    )
    print(f"429s waited out: {totals['faults']['burst_429']}")
    print(f"videos saved {saved}/{args.jobs}, decoded with the right frame count {decoded}")
    if failed:
        print(f"items failed: {failed}")
        for result in results:
            if result.errors:
                print(result.summary())
    print(f"journal: {len(entries)} rows, {whole} saved and whole, integrity_check {check}")


def kill_and_resume(args: argparse.Namespace, faults: FaultConfig, work: Path) -> None:
    key = "eco_soak_killed"
    config = ServerConfig(
        api_keys=(key,), data_dir=work / "killed-server", profile="fast", faults=faults, seed=2
    )
    home = work / "killed-home"
    env = {**os.environ, "ECOHASH_HOME": str(home), "PYTHONPATH": str(REPO)}
    with ThreadedServer(config) as server:
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, server.url, key, f"killed {i}"],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(args.kill)
        ]
        killed = 0
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
            killed += bool(line and json.loads(line)["id"])
        os.environ["ECOHASH_HOME"] = str(home)
        start = time.perf_counter()
        with Client(api_key=key, base_url=server.url, poll_policy=POLL) as client:
            result = client.resume(timeout=120)
        wall = time.perf_counter() - start
        posts = server.stats.for_key(key)["requests"]["posts"]
    whole = sum(frames(video.path) == 5 for video in result.videos if video.path)
    print(
        f"kill and resume: {len(result.videos)} videos recovered / {killed} jobs killed "
        f"({whole} decoded whole; {len(result.running)} still running, "
        f"{len(result.errors)} lost); {posts} POSTs; resume took {wall:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--keys", type=int, default=3)
    parser.add_argument("--max-frames", type=int, default=9, help="videos of 1..N frames")
    parser.add_argument("--error-rate", type=float, default=0.3)
    parser.add_argument("--drop-rate", type=float, default=0.1)
    parser.add_argument("--slow-rate", type=float, default=0.0)
    parser.add_argument("--slow-seconds", type=float, default=0.5)
    parser.add_argument("--burst-429-every", type=int, default=12)
    parser.add_argument("--burst-429-length", type=int, default=3)
    parser.add_argument("--post-drop-rate", type=float, default=0.0)
    parser.add_argument("--max-retries", type=int, default=8)
    parser.add_argument("--kill", type=int, default=5, help="processes killed mid-wait")
    args = parser.parse_args()
    faults = FaultConfig(
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        burst_429_every=args.burst_429_every,
        burst_429_length=args.burst_429_length,
        post_drop_rate=args.post_drop_rate,
    )
    print(f"faults: {faults}")
    with tempfile.TemporaryDirectory(prefix="eco-soak-") as tmp:
        work = Path(tmp)
        os.environ["ECOHASH_HOME"] = str(work / "home")
        os.environ.pop("ECOHASH_API_KEY", None)
        soak(args, faults, work)
        if args.kill:
            kill_and_resume(args, faults, work)


if __name__ == "__main__":
    main()
