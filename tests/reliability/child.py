"""A process for the reliability tests to kill, or to run beside another one.

Each line it prints is a JSON event, flushed at once, so that the test waits on what
happened rather than on time::

    child.py generate BASE_URL API_KEY NUM_FRAMES
        makes one video with Client.generate; prints {"event": "update", ...} on every
        snapshot (the first right after the submit was journaled), then "done".
    child.py journal PATH NAME COUNT
        prints "ready", waits for a line on stdin (the start signal), then records COUNT
        jobs into the journal at PATH, each queued, processing, then final; prints
        "done" with the count.
    child.py create FOLDER NAME COUNT
        prints "ready"; then COUNT rounds, each started by a line on stdin: records one
        job into a journal that does not exist yet (FOLDER/journal-<i>.sqlite3), as
        another process does the same, and prints "round" with the error met, if any.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from eco_widget import Client, Job, Journal, JournalError, PollPolicy, VideoParams
from eco_widget._models import JobError

POLL = PollPolicy(
    first_poll=0.05,
    min_interval=0.05,
    max_interval=0.2,
    expected_queue=0.5,
    processing_min=1.0,
    processing_max=3.0,
)


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def generate(base_url: str, api_key: str, num_frames: str) -> None:
    def on_update(job: Job) -> None:
        emit("update", id=job.id, status=job.status, seed=job.seed)

    with Client(api_key=api_key, base_url=base_url, poll_policy=POLL) as client:
        video = client.generate(
            "a lighthouse in a storm, recovered after a crash",
            num_frames=int(num_frames),
            num_inference_steps=20,
            on_update=on_update,
        )
    emit("done", id=video.job.id, path=str(video.path))


#: The final status of job ``i``: completed and saved, completed, or failed.
FINAL = ("saved", "completed", "failed")


def journal(path: str, name: str, count: str) -> None:
    target = Journal(path)
    videos = Path(path).parent / f"videos-{name}"
    videos.mkdir(parents=True, exist_ok=True)
    emit("ready", name=name)
    sys.stdin.readline()
    for i in range(int(count)):
        params = VideoParams.create(f"{name} job {i}", num_frames=5, seed=i)
        job_id = f"vid_{name}_{i:04d}"
        base = {"id": job_id, "created": time.time(), "params": params}
        account = {"base_url": "http://127.0.0.1:1", "account": name}
        target.record(Job(status="queued", **base), **account)
        target.record(Job(status="processing", progress=0.5, **base), **account)
        final = FINAL[i % len(FINAL)]
        if final == "failed":
            error = JobError("generation_error", f"job {i} failed on purpose")
            target.record(Job(status="failed", error=error, **base), **account)
            continue
        done = time.time()
        target.record(
            Job(status="completed", completed_at=done, expires_at=done + 86400, **base),
            **account,
        )
        if final == "saved":
            video = videos / f"{job_id}.mp4"
            video.write_bytes(job_id.encode() * (i + 1))
            target.record_saved(account["base_url"], job_id, video)
    emit("done", name=name, count=int(count))


def create(folder: str, name: str, count: str) -> None:
    emit("ready", name=name)
    for i in range(int(count)):
        sys.stdin.readline()  # each round starts when the test says so, in both processes
        params = VideoParams.create(f"{name} job {i}", num_frames=5, seed=i)
        job = Job(id=f"vid_{name}_{i:04d}", status="queued", created=time.time(), params=params)
        try:
            Journal(Path(folder) / f"journal-{i}.sqlite3").record(
                job, base_url="http://127.0.0.1:1", account=name
            )
        except JournalError as exc:
            emit("round", i=i, error=str(exc))
        else:
            emit("round", i=i, error=None)
    emit("done", name=name)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"generate": generate, "journal": journal, "create": create}[command](*arguments)
