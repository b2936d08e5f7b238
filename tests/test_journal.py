"""The job journal on its own: what it keeps, what it refuses, and that it never
overwrites a file it cannot read."""

from __future__ import annotations

import os
import sqlite3

import pytest

from eco_widget import Job, JournalError, VideoParams
from eco_widget._journal import EXPIRED, LOST, SCHEMA_VERSION, Journal, journal_path
from eco_widget._models import JobError

BASE = "https://api.test"
ACCOUNT = "0123456789ab"


def job(job_id: str = "vid_1", status: str = "queued", **extra) -> Job:
    params = VideoParams.create("a red balloon", num_frames=17, seed=42)
    return Job(id=job_id, status=status, created=1000.0, params=params, **extra)


@pytest.fixture
def journal(tmp_path) -> Journal:
    return Journal(tmp_path / "journal.sqlite3")


def test_the_default_file_is_in_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))
    assert journal_path() == tmp_path / "home" / "journal.sqlite3"
    assert Journal().path == journal_path()


def test_reading_a_journal_that_does_not_exist_creates_nothing(journal):
    assert journal.entries() == []
    assert journal.get(BASE, "vid_1") is None
    assert not journal.path.exists()


def test_a_submitted_job_is_kept_with_its_parameters_and_seed(journal):
    journal.record(job(), base_url=BASE, account=ACCOUNT, now=2000.0)
    entry = journal.get(BASE, "vid_1")
    assert entry is not None
    assert (entry.prompt, entry.num_frames, entry.seed, entry.status) == (
        "a red balloon",
        17,
        42,
        "queued",
    )
    assert entry.params == VideoParams.create("a red balloon", num_frames=17, seed=42)
    assert entry.submitted_at == 2000.0 and entry.account == ACCOUNT
    assert entry.job.id == "vid_1" and entry.job.seed == 42


def test_updates_follow_the_job_and_a_final_status_never_goes_back(journal):
    journal.record(job(), base_url=BASE, account=ACCOUNT, now=1.0)
    journal.record(job(status="processing", progress=0.5), base_url=BASE, account=ACCOUNT)
    journal.record(
        job(status="completed", completed_at=50.0, expires_at=86450.0),
        base_url=BASE,
        account=ACCOUNT,
    )
    # A stale snapshot from another process arrives late.
    journal.record(job(status="processing"), base_url=BASE, account=ACCOUNT)
    entry = journal.get(BASE, "vid_1")
    assert entry.status == "completed"
    assert entry.completed_at == 50.0 and entry.expires_at == 86450.0
    assert entry.submitted_at == 1.0  # the first write's time is kept


def test_saved_and_outcomes(journal, tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 100)
    journal.record(job(status="completed"), base_url=BASE, account=ACCOUNT)
    journal.record_saved(BASE, "vid_1", video)
    entry = journal.get(BASE, "vid_1")
    assert entry.saved_path == str(video) and entry.saved_size == 100
    assert entry.is_saved and entry.is_finished
    video.write_bytes(b"x" * 10)  # the file was damaged since
    assert not journal.get(BASE, "vid_1").is_saved
    # An outcome never replaces a saved video.
    journal.record_outcome(BASE, "vid_1", EXPIRED, "too late")
    assert journal.get(BASE, "vid_1").status == "completed"


def test_unfinished_lists_what_is_left_to_recover(journal, tmp_path):
    def add(job_id, status, account=ACCOUNT, base=BASE):
        journal.record(job(job_id, status), base_url=base, account=account)

    add("vid_q", "queued")
    add("vid_p", "processing")
    add("vid_c", "completed")
    add("vid_s", "completed")
    add("vid_f", "failed")
    add("vid_e", "completed")
    add("vid_l", "queued")
    add("vid_other_key", "queued", account="ffffffffffff")
    add("vid_other_server", "queued", base="http://127.0.0.1:9")
    saved = tmp_path / "s.mp4"
    saved.write_bytes(b"mp4")
    journal.record_saved(BASE, "vid_s", saved)
    journal.record_outcome(BASE, "vid_e", EXPIRED, "expired")
    journal.record_outcome(BASE, "vid_l", LOST, "not found")
    ids = [e.job_id for e in journal.unfinished(BASE, ACCOUNT)]
    assert ids == ["vid_q", "vid_p", "vid_c"]
    assert journal.get(BASE, "vid_l").status == LOST


def test_expiry_is_known_without_asking_the_server(journal):
    journal.record(job(status="completed", expires_at=5000.0), base_url=BASE, account=ACCOUNT)
    entry = journal.get(BASE, "vid_1")
    assert not entry.is_expired(now=4999.0)
    assert entry.is_expired(now=5000.0)


def test_a_batch_keeps_the_latest_try_of_each_item(journal):
    journal.record(job("vid_a", "failed"), base_url=BASE, account=ACCOUNT, batch=("b1", 0), now=1)
    journal.record(job("vid_b"), base_url=BASE, account=ACCOUNT, batch=("b1", 1), now=2)
    journal.record(job("vid_c"), base_url=BASE, account=ACCOUNT, batch=("b1", 0), now=3)
    journal.record(job("vid_d"), base_url=BASE, account=ACCOUNT, batch=("b2", 0), now=4)
    latest = journal.batch("b1")
    assert {i: e.job_id for i, e in latest.items()} == {0: "vid_c", 1: "vid_b"}


def test_errors_are_kept(journal):
    failed = job(status="failed", error=JobError("generation_error", "out of memory"))
    journal.record(failed, base_url=BASE, account=ACCOUNT)
    entry = journal.get(BASE, "vid_1")
    assert (entry.error_type, entry.error_message) == ("generation_error", "out of memory")


def test_the_file_is_a_wal_database_of_the_current_layout(journal):
    journal.record(job(), base_url=BASE, account=ACCOUNT)
    with sqlite3.connect(journal.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_damaged_journal_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "journal.sqlite3"
    garbage = os.urandom(4096)
    path.write_bytes(garbage)
    journal = Journal(path)
    with pytest.raises(JournalError) as info:
        journal.record(job(), base_url=BASE, account=ACCOUNT)
    message = str(info.value)
    assert str(path) in message and "damaged" in message and "left as it is" in message
    with pytest.raises(JournalError):
        journal.entries()
    assert path.read_bytes() == garbage
    assert info.value.path == path


def test_a_journal_from_a_newer_version_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    with pytest.raises(JournalError, match="newer eco_widget"):
        Journal(path).record(job(), base_url=BASE, account=ACCOUNT)
    assert path.read_bytes() == before


def test_the_key_is_never_written(journal, tmp_path):
    from eco_widget import Client

    secret = "eco_live_do_not_store_me"
    client = Client(api_key=secret, base_url="http://127.0.0.1:9", journal=journal)
    journal.record(job(), base_url=client.base_url, account=client.account.rsplit("#", 1)[1])
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes()
