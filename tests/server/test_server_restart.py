"""Jobs survive restarts; servers sharing a data directory hand jobs over."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time

import httpx
import pytest

from eco_widget._params import VideoParams
from eco_widget.server import _jobs
from eco_widget.server._records import hash_key
from eco_widget.server._store import JobStore
from eco_widget.server._timing import Plan
from tests.waiting import line_within


def test_a_completed_job_is_served_after_a_restart(start_api):
    first = start_api()
    job = first.submit(prompt="kept across restarts").json()
    done = first.completed(job["id"])
    data = httpx.get(done["video_url"]).content
    first.server.stop()

    second = start_api()
    assert second.url != first.url
    again = second.get(job["id"]).json()
    assert again["status"] == "completed"
    assert again["completed_at"] == done["completed_at"]
    assert again["video_url"].startswith(second.url)
    assert httpx.get(again["video_url"]).content == data
    # The signature is the data directory's: the old query string still works.
    old_query = done["video_url"].split("?", 1)[1]
    assert httpx.get(f"{second.url}/v1/videos/{job['id']}.mp4?{old_query}").content == data


def test_a_job_caught_mid_flight_is_resumed(start_api, fake_renderer):
    gate = threading.Event()
    first = start_api(renderer=fake_renderer(gate=gate))
    running = first.submit(prompt="caught while rendering").json()
    waiting = first.submit(prompt="caught while waiting").json()
    first.wait(running["id"], lambda job: job["status"] == "processing")
    first.server.stop()
    gate.set()  # lets the abandoned render thread finish; its result is dropped

    renderer = fake_renderer()
    second = start_api(renderer=renderer)
    for job in (running, waiting):
        done = second.completed(job["id"])
        assert done["status"] == "completed"
        assert done["seed"] == job["seed"]
        assert httpx.get(done["video_url"]).content == fake_renderer.video_for(
            VideoParams.create(job["prompt"], seed=job["seed"])
        )
    assert sorted(call.prompt for call in renderer.calls) == sorted(
        [running["prompt"], waiting["prompt"]]
    )


def _orphan(data_dir, owner, *, params=None, status="queued", key="eco_srvtest_0123456789abcdef"):
    """Put a job owned by ``owner`` straight into the store."""
    store = JobStore(data_dir)
    try:
        record = store.create_job(
            hash_key(key),
            VideoParams.create("an orphan", num_frames=5, seed=3),
            Plan(0.0, 0.0),
            owner=owner,
            max_active=100,
            now=time.time(),
        )
        with store._transaction() as db:
            db.execute("UPDATE jobs SET status = ? WHERE id = ?", (status, record.id))
            if params is not None:
                db.execute("UPDATE jobs SET params = ? WHERE id = ?", (params, record.id))
        return record.id
    finally:
        store.close()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=60)
    return process.pid


@pytest.mark.parametrize("owner", ["stopped", "dead", "silent", "unknown"])
def test_jobs_of_a_gone_server_are_claimed(start_api, data_dir, owner):
    store = JobStore(data_dir)
    now = time.time()
    if owner != "unknown":
        store.register_server(owner, now - (120 if owner == "silent" else 0))
    if owner == "stopped":
        store.server_stopped(owner, now)
    if owner == "dead":
        with store._transaction() as db:
            db.execute("UPDATE servers SET pid = ? WHERE token = ?", (_dead_pid(), owner))
    store.close()
    queued = _orphan(data_dir, owner)
    processing = _orphan(data_dir, owner, status="processing")

    api = start_api()
    for job_id in (queued, processing):
        assert api.completed(job_id)["status"] == "completed"


def test_jobs_of_a_live_server_are_left_alone(start_api, data_dir):
    store = JobStore(data_dir)
    store.register_server("alive", time.time())  # this pid, fresh heartbeat
    store.close()
    job_id = _orphan(data_dir, "alive")
    api = start_api()
    assert api.get(job_id).json()["status"] == "queued"
    store = JobStore(data_dir)
    try:
        assert store.claim_orphans("someone-else", time.time()) == []
    finally:
        store.close()


@pytest.mark.parametrize(
    "params",
    ["{not json", json.dumps({"model": "wan21-t2v-1-3b", "prompt": ""}), json.dumps({"x": 1})],
)
def test_a_job_whose_parameters_cannot_be_read_fails_with_a_reason(start_api, data_dir, params):
    job_id = _orphan(data_dir, "gone", params=params)
    api = start_api()
    job = api.completed(job_id)
    assert job["status"] == "failed"
    assert job["error"]["type"] == "generation_error"
    assert "stored parameters are unreadable" in job["error"]["message"]
    assert "prompt" not in job  # nothing to echo


def test_two_servers_share_a_data_directory(start_api, monkeypatch, fake_renderer):
    monkeypatch.setattr(_jobs, "HEARTBEAT_SECONDS", 0.05)
    gate = threading.Event()
    one = start_api(renderer=fake_renderer(gate=gate))
    two = start_api()
    job = one.submit(prompt="shared").json()
    # Either server answers for the job.
    seen, _ = two.wait(job["id"], lambda job: job["status"] == "processing")
    assert "progress" in seen
    # The job's server goes away: the other one claims it on its next heartbeat.
    one.server.stop()
    gate.set()
    assert two.completed(job["id"])["status"] == "completed"


def test_the_data_directory_is_private(api, data_dir):
    assert stat.S_IMODE(os.stat(data_dir / "secret.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data_dir / "jobs.sqlite3").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700


def test_the_secret_is_created_once(data_dir):
    from eco_widget.server._signing import load_or_create_secret

    data_dir.mkdir()
    first = load_or_create_secret(data_dir / "secret.key")
    assert load_or_create_secret(data_dir / "secret.key") == first
    assert len(first) == 32
    assert list(data_dir.iterdir()) == [data_dir / "secret.key"]


def test_jobs_of_a_killed_process_are_claimed_by_another(start_api, data_dir, monkeypatch):
    monkeypatch.setattr(_jobs, "HEARTBEAT_SECONDS", 0.05)
    survivor = start_api()
    # Another process serves the same data directory, takes a job, and is killed.
    script = (
        "import sys, threading, httpx\n"
        "from eco_widget.server import ServerConfig, ThreadedServer\n"
        "class Stuck:\n"
        "    def render(self, params, progress):\n"
        "        threading.Event().wait()\n"
        f"config = ServerConfig(api_keys=({survivor.key!r},), data_dir={str(data_dir)!r},\n"
        "                      profile='instant', renderer=Stuck())\n"
        "server = ThreadedServer(config).start()\n"
        "job = httpx.post(server.url + '/v1/video/generations',\n"
        "                 json={'model': 'wan21-t2v-1-3b', 'prompt': 'orphaned by a kill'},\n"
        f"                 headers={{'Authorization': 'Bearer {survivor.key}'}}).json()\n"
        "print(job['id'], flush=True)\n"
        "threading.Event().wait()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        job_id = line_within(process.stdout, 60, "the other server's job id").strip()
        assert job_id.startswith("vid_")
        survivor.wait(job_id, lambda job: job["status"] == "processing")
    finally:
        process.kill()
        process.wait(timeout=60)
    done = survivor.completed(job_id)
    assert done["status"] == "completed"
    assert done["prompt"] == "orphaned by a kill"
