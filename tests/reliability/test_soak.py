"""Fifty jobs on three keys through a server that fails 30 % of its reads, drops
connections mid-body and answers bursts of 429: every video arrives whole, every job
is submitted exactly once, and the journal accounts for all of them."""

from __future__ import annotations

import asyncio
import os

from eco_widget import AsyncClient, Journal
from eco_widget.server import FaultConfig
from tests.conftest import FAST_POLL
from tests.reliability.support import frame_count, integrity

KEYS = ("eco_soak_key_a", "eco_soak_key_b", "eco_soak_key_c")
JOBS = 50
FAULTS = FaultConfig(error_rate=0.3, drop_rate=0.1, burst_429_every=12, burst_429_length=3)


def _items(key_index: int) -> list[dict]:
    """This key's share of the 50 jobs (17, 17, 16), of 3 to 9 frames."""
    return [
        {
            "prompt": f"soak {key_index} item {i}",
            "num_frames": 3 + 2 * (i % 4),
            "num_inference_steps": 20,
            "seed": 1000 * key_index + i,
        }
        for i in range(key_index, JOBS, len(KEYS))
    ]


async def _run(url: str) -> list:
    clients = [
        AsyncClient(api_key=key, base_url=url, poll_policy=FAST_POLL, max_retries=8) for key in KEYS
    ]
    try:
        return await asyncio.gather(
            *(client.generate_many(_items(k), progress=False) for k, client in enumerate(clients))
        )
    finally:
        for client in clients:
            await client.aclose()


def test_fifty_jobs_through_injected_faults(make_server, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ECOHASH_HOME", str(home))
    server = make_server(api_keys=KEYS, faults=FAULTS, seed=11)
    store = server.app.state.store

    results = asyncio.run(_run(server.url))

    made = {}
    for k, (key, result) in enumerate(zip(KEYS, results, strict=True)):
        items = _items(k)
        assert result.ok, result.summary()
        assert len(result.videos) == len(items)
        for item, video in zip(items, result, strict=True):
            assert video is not None and video.path is not None
            assert video.seed == item["seed"] and video.prompt == item["prompt"]
            assert frame_count(video.path) == item["num_frames"]
            assert video.path.read_bytes() == store.video_path(video.job.id).read_bytes()
            made[video.job.id] = video
        stats = server.stats.for_key(key)
        assert stats["requests"]["posts"] == len(items)  # exactly one submission per job
        assert stats["jobs"]["completed"] == len(items)
    assert len(made) == JOBS

    # The faults did happen, on every kind.
    faults = server.stats.totals()["faults"]
    assert faults["server_error"] > 0 and faults["drop"] > 0 and faults["burst_429"] > 0

    journal = Journal()
    entries = journal.entries()
    assert len(entries) == JOBS
    assert {entry.job_id for entry in entries} == set(made)
    for entry in entries:
        assert entry.status == "completed"
        assert entry.saved_path == str(made[entry.job_id].path)
        assert os.path.getsize(entry.saved_path) == entry.saved_size
        assert entry.is_saved
    assert integrity(journal.path) == "ok"
    assert sorted(p.name for p in (home / "videos").iterdir()) == sorted(
        video.path.name for video in made.values()
    )
