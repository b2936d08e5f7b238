"""The journal file under stress: processes writing it at once, and files it must
refuse (damaged, or from a newer eco_widget) without sending anything or touching them."""

from __future__ import annotations

import random
import sqlite3

import pytest

from eco_widget import Client, Job, Journal, JournalError
from eco_widget._journal import SCHEMA_VERSION
from tests.conftest import FAST_POLL, KEY
from tests.reliability.child import FINAL
from tests.reliability.support import DEADLINE, integrity, kill, read_event, start_child

JOBS_EACH = 300
CREATIONS = 100
BASE = "http://127.0.0.1:1"


def _together(
    home, command: str, target: str, count: int, rounds: int = 1, names=("left", "right")
) -> list[dict]:
    """Start a ``child.py`` process for each name; once all are ready, let them go at
    the same moment, ``rounds`` times (the next once all have done one); return every
    event after "ready"."""
    children = [start_child(home, command, target, name, str(count)) for name in names]
    try:
        for child in children:  # all are up, waiting for the start signal
            assert read_event(child.stdout, child)["event"] == "ready"
        reports = []
        for _ in range(rounds):
            for child in children:
                child.stdin.write("go\n")
                child.stdin.flush()
            if rounds > 1:
                reports += [read_event(child.stdout, child) for child in children]
        for name, child in zip(names, children, strict=True):
            done = read_event(child.stdout, child)
            assert done["event"] == "done" and done["name"] == name
            assert child.wait(DEADLINE) == 0
            assert child.stderr.read() == ""  # no process saw an error
            reports.append(done)
        return reports
    finally:
        for child in children:
            kill(child)


def test_two_processes_write_the_journal_at_once(tmp_path):
    path = tmp_path / "home" / "journal.sqlite3"
    first = Job(id="vid_before", status="failed", created=1.0)
    Journal(path).record(first, base_url=BASE, account="setup")

    reports = _together(tmp_path, "journal", str(path), JOBS_EACH)
    assert [report["count"] for report in reports] == [JOBS_EACH, JOBS_EACH]

    assert integrity(path) == "ok"
    entries = Journal(path).entries()
    assert len(entries) == 2 * JOBS_EACH + 1
    by_id = {entry.job_id: entry for entry in entries}
    assert by_id["vid_before"].status == "failed"
    for name in ("left", "right"):
        for i in range(JOBS_EACH):
            entry = by_id[f"vid_{name}_{i:04d}"]
            assert entry.account == name
            assert entry.seed == i and entry.prompt == f"{name} job {i}"
            final = FINAL[i % len(FINAL)]
            assert entry.status == ("failed" if final == "failed" else "completed")
            if final == "saved":
                assert entry.is_saved and entry.saved_size == len(entry.job_id) * (i + 1)
            else:
                assert entry.saved_path is None
            if final == "failed":
                assert entry.error_type == "generation_error"
            else:
                assert entry.expires_at is not None and entry.progress == 0.5


def test_processes_making_the_same_new_journal(tmp_path):
    """Kernels started together on a fresh machine all make the journal: 100 times, a
    new file is made by four processes at the same moment, and none may fail."""
    folder = tmp_path / "home"
    folder.mkdir()
    names = ("a", "b", "c", "d")
    events = _together(tmp_path, "create", str(folder), CREATIONS, rounds=CREATIONS, names=names)
    rounds = [event for event in events if event["event"] == "round"]
    assert len(rounds) == len(names) * CREATIONS
    assert [event for event in rounds if event["error"]] == []
    for i in range(CREATIONS):
        path = folder / f"journal-{i}.sqlite3"
        assert integrity(path) == "ok"
        assert sorted(entry.job_id for entry in Journal(path).entries()) == [
            f"vid_{name}_{i:04d}" for name in names
        ]


def _random_bytes(path):
    path.write_bytes(random.Random(7).randbytes(16384))


def _newer_layout(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, layout TEXT)")
    conn.execute("INSERT INTO jobs VALUES ('vid_from_the_future', 'v2')")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("make", "says"),
    [(_random_bytes, "is damaged"), (_newer_layout, "newer eco_widget")],
    ids=["random-bytes", "newer-layout"],
)
def test_a_journal_it_cannot_read_stops_the_job_before_it_is_sent(
    make, says, make_server, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    home.mkdir()
    path = home / "journal.sqlite3"
    make(path)
    before = path.read_bytes()
    monkeypatch.setenv("ECOHASH_HOME", str(home))
    server = make_server()

    client = Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)
    with client, pytest.raises(JournalError) as caught:
        client.generate("a video that must not be billed", num_frames=5)

    message = str(caught.value)
    assert str(path) in message and says in message
    assert "left as it is" in message
    assert caught.value.path == path
    assert path.read_bytes() == before  # byte for byte
    assert sorted(p.name for p in home.iterdir()) == ["journal.sqlite3"]  # no -wal, no -shm
    assert server.stats.for_key(KEY)["requests"]["posts"] == 0  # nothing billed
