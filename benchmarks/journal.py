"""What the job journal costs: a row before each submission is sent, its job id from
the reply, and one write per status change.

Prints, for N jobs, the time of the journal's writes alone (durable ``synchronous=FULL``
as eco_widget uses it, against the faster but crash-unsafe ``NORMAL``), and the wall
time of ``generate`` against the instant local server with the journal on and off.

    python benchmarks/journal.py --jobs 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from eco_widget import Client, Job, PollPolicy, VideoParams
from eco_widget import _journal as journal_module
from eco_widget._journal import Journal

KEY = "eco_bench_key"
FAST = PollPolicy(first_poll=0.01, min_interval=0.01, max_interval=0.1, expected_queue=0.0)


def journal_writes(folder: Path, jobs: int, synchronous: str) -> list[float]:
    journal = Journal(folder / f"journal-{synchronous}.sqlite3")
    params = VideoParams.create("a benchmark balloon", seed=1)
    timings = []
    journal_module.SYNCHRONOUS = synchronous
    try:
        for i in range(jobs):
            start = time.perf_counter()
            reservation = journal.reserve(params, base_url="https://api.test", account="abc")
            for status in ("queued", "processing", "completed"):
                job = Job(id=f"vid_{i}", status=status, params=params)
                claim = reservation if status == "queued" else None
                journal.record(job, base_url="https://api.test", account="abc", reservation=claim)
            timings.append(time.perf_counter() - start)
    finally:
        journal_module.SYNCHRONOUS = "FULL"
    return timings


def generate_wall(folder: Path, jobs: int) -> tuple[list[float], list[float]]:
    """Jobs alternate between a client with the journal and one without, on one server,
    after a few warm-up jobs, so that neither gets the warmer process."""
    from eco_widget.server import ServerConfig, ThreadedServer

    server = ThreadedServer(
        ServerConfig(api_keys=(KEY,), data_dir=folder / "server", profile="instant")
    )
    server.start()
    timings: dict[bool, list[float]] = {True: [], False: []}
    try:
        clients = {
            flag: Client(
                api_key=KEY, base_url=server.url, poll_policy=FAST, journal=flag, autosave=False
            )
            for flag in (True, False)
        }
        for i in range(-4, 2 * jobs):
            flag = i % 2 == 0
            start = time.perf_counter()
            clients[flag].generate(f"clip {i}", num_frames=1, seed=abs(i))
            if i >= 0:
                timings[flag].append(time.perf_counter() - start)
        for client in clients.values():
            client.close()
    finally:
        server.stop()
    return timings[True], timings[False]


def line(label: str, timings: list[float]) -> str:
    ms = [t * 1000 for t in timings]
    p95 = statistics.quantiles(ms, n=20)[-1] if len(ms) >= 20 else max(ms)
    return f"{label:<44} mean {statistics.mean(ms):7.2f} ms   p95 {p95:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["ECOHASH_HOME"] = str(folder / "home")
        print(
            f"{args.jobs} jobs, 4 journal writes each (the row before the POST, the job id "
            "from the reply, processing, completed)"
        )
        print(
            line(
                "journal writes per job, FULL (eco_widget)",
                journal_writes(folder, args.jobs, "FULL"),
            )
        )
        print(line("journal writes per job, NORMAL", journal_writes(folder, args.jobs, "NORMAL")))
        n = min(args.jobs, 60)
        on, off = generate_wall(folder, n)
        print(f"generate() against the instant local server, {n} jobs:")
        print(line("  journal on", on))
        print(line("  journal off", off))


if __name__ == "__main__":
    main()
