"""``eco_widget.jobs()`` and ``ecovideo jobs``: the journal as a text and HTML table, from
journals written by real clients against the local server and by hand for the states
that take a day; a damaged journal is reported and left as it is."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import random
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import eco_widget
from eco_widget import (
    Client,
    InvalidParameterError,
    Job,
    JobError,
    JobsTable,
    Journal,
    JournalError,
    VideoParams,
)
from eco_widget import _jobs_table as jobs_table_module
from eco_widget._jobs_table import MAX_POSTERS, POSTER_WIDTH
from eco_widget._journal import EXPIRED, LOST
from eco_widget._sandbox import sandbox_dir
from eco_widget.cli import _main as cli_module
from eco_widget.cli import main
from eco_widget.server import SandboxRenderer
from tests.conftest import FAST_POLL, KEY
from tests.test_cli_journal import (
    FAST,
    FailingRenderer,
    at,
    ecovideo,
    one_error_line,
    posts,
    run,
)
from tests.waiting import deadline_wait

ROOT = Path(__file__).resolve().parents[1]
XSS = "<img src=x onerror=alert(1)>"
SMALL = {"num_frames": 5, "fps": 8, "num_inference_steps": 20}
NOW = 1_800_000_000.0
HOUR = 3600.0


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private data folder (journal and auto-saved videos) for this test."""
    folder = tmp_path / "home"
    monkeypatch.setenv("ECOHASH_HOME", str(folder))
    return folder


@pytest.fixture
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``home``, with tmp_path as the cwd, no key or URL from the environment, and the
    command's clients polling fast."""
    for name in ("ECOHASH_API_KEY", "ECOHASH_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_module, "Client", functools.partial(Client, poll_policy=FAST_POLL))
    return home


def client_for(server) -> Client:
    return Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)


def record(journal: Journal, job_id: str, status: str, *, at: float, **fields) -> None:
    """Journal a job snapshot as a client would, submitted at ``at``."""
    params = VideoParams.create(fields.pop("prompt", f"prompt of {job_id}"), seed=7, **SMALL)
    job = Job(id=job_id, status=status, params=params, **fields)
    journal.record(job, base_url="http://api.test", account="0123456789ab", now=at)


class Tags(HTMLParser):
    """Every tag and attribute of an HTML fragment, the attributes of each ``<img>``,
    and the cells of each body row."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.rows: list[list[str]] = []
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        if tag == "img":
            self.images.append(dict(attrs))
            if self.rows:
                self.rows[-1][-1] += "<img>"
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_body and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def parse(html_text: str) -> Tags:
    parser = Tags()
    parser.feed(html_text)
    parser.close()
    return parser


# -- from real clients --------------------------------------------------------------------
def test_the_table_shows_saved_and_unsaved_jobs_newest_first(make_server, home: Path):
    server = make_server()
    long_prompt = "a very long prompt about a red balloon drifting over snowy mountains at dawn"
    with client_for(server) as client:
        video = client.generate(long_prompt, seed=1234, **SMALL)
        waiting = client.submit("a koi pond", seed=99, **SMALL)

    table = eco_widget.jobs()
    assert [entry.job_id for entry in table] == [waiting.id, video.job.id]
    assert table.path == home / "journal.sqlite3"
    lines = repr(table).splitlines()
    assert lines[0] == f"2 jobs in the journal at {home / 'journal.sqlite3'}"
    header = ["job", "id", "status", "submitted", "seed", "frames", "video", "prompt"]
    assert lines[1].split() == header
    assert lines[2].split()[:2] == [waiting.id, "queued"]
    assert "99  " in lines[2] and "5@8" in lines[2] and "not saved yet" in lines[2]
    assert lines[3].split()[:2] == [video.job.id, "completed"]
    assert str(video.path) in lines[3]
    assert lines[3].endswith(long_prompt[:47] + "…")
    # the columns line up: every row starts its seed where the header does
    assert len({line.index(" 5@8") for line in lines[2:4]}) == 1
    assert lines[4] == (
        "1 job is not saved yet: eco_widget.Client().resume() or `ecovideo resume` fetches them"
    )
    assert str(table) == repr(table)


def test_html_escapes_the_prompt_and_has_no_script(make_server, home: Path):
    server = make_server()
    with client_for(server) as client:
        client.generate(XSS, **SMALL)
        client.submit(f"{XSS} and <script>alert(2)</script>", **SMALL)

    html_text = eco_widget.jobs()._repr_html_()
    assert "<script" not in html_text and "<img src=x" not in html_text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_text
    tags = parse(html_text)
    assert tags.tags <= {"div", "table", "thead", "tbody", "tr", "th", "td", "img"}
    assert tags.attributes <= {"class", "style", "title", "src", "alt", "width"}
    assert XSS in "".join(tags.text)  # shown as text, exactly
    # the one image is the saved video's poster, embedded, its prompt as alt text
    (poster,) = tags.images
    assert poster["alt"] == XSS
    assert (poster["src"] or "").startswith("data:image/jpeg;base64,")


def test_records_are_plain_dicts(make_server, home: Path):
    server = make_server()
    with client_for(server) as client:
        video = client.generate("a lantern", seed=5, **SMALL)
    (record_,) = eco_widget.jobs().to_records()
    assert record_["job_id"] == video.job.id
    assert (record_["seed"], record_["status"], record_["saved"]) == (5, "completed", True)
    assert record_["saved_path"] == record_["video"] == str(video.path)
    assert KEY not in json.dumps(record_)


# -- posters -------------------------------------------------------------------------------
def poster_image(attributes: dict[str, str | None]) -> Image.Image:
    """The image an ``<img>`` embeds (a ``data:`` URL), decoded by Pillow."""
    src = attributes["src"] or ""
    kind, _, data = src.partition(";base64,")
    assert kind in ("data:image/png", "data:image/jpeg"), src[:40]
    image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
    image.load()
    return image


def test_a_saved_video_shows_a_poster_of_its_middle_frame(make_server, home: Path):
    server = make_server()
    with client_for(server) as client:
        video = client.generate("a red kite", seed=3, num_frames=9, fps=4)
        client.submit("a koi pond", seed=4, **SMALL)

    tags = parse(eco_widget.jobs()._repr_html_())
    assert [row[0] for row in tags.rows] == ["—", "<img>"]  # the job not saved has none
    (attributes,) = tags.images
    assert attributes["alt"] == "a red kite"
    assert attributes["width"] == str(POSTER_WIDTH) == "96"
    image = poster_image(attributes)
    assert image.format in ("JPEG", "PNG") and image.mode == "RGB"
    assert image.size == (96, round(96 * 480 / 832))  # the sandbox's 832×480, scaled
    # It is the video's poster at that width (Video.poster: the middle frame), up to
    # the JPEG's loss.
    still = Image.open(io.BytesIO(video.poster(width=96)))
    assert float(np.abs(np.asarray(image, dtype=np.int16) - np.asarray(still)).mean()) < 5


def test_posters_escape_the_prompt_in_their_alt_text(make_server, home: Path):
    server = make_server()
    prompt = '<script>alert("x")</script> & a "quoted" kite'
    with client_for(server) as client:
        client.generate(prompt, **SMALL)
    html_text = eco_widget.jobs()._repr_html_()
    assert "<script" not in html_text
    assert 'alt="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; a &quot;' in html_text
    (attributes,) = parse(html_text).images
    assert attributes["alt"] == prompt


def test_no_poster_for_a_deleted_or_unreadable_file(make_server, home: Path):
    server = make_server()
    with client_for(server) as client:
        deleted, unreadable, _kept = (
            client.generate(prompt, **SMALL) for prompt in ("a fox", "an owl", "a hare")
        )
    assert deleted.path is not None and unreadable.path is not None
    deleted.path.unlink()
    size = unreadable.path.stat().st_size
    unreadable.path.write_bytes(random.Random(4).randbytes(size))  # same size: still "saved"

    table = eco_widget.jobs()
    assert [entry.is_saved for entry in table] == [True, True, False]
    tags = parse(table._repr_html_())
    assert [row[0] for row in tags.rows] == ["<img>", "—", "—"]
    assert [image["alt"] for image in tags.images] == ["a hare"]
    assert tags.rows[2][6].startswith("file missing: ")


def test_without_the_media_extra_the_table_shows_no_posters(
    make_server, home: Path, monkeypatch: pytest.MonkeyPatch
):
    server = make_server()
    with client_for(server) as client:
        client.generate("a heron", **SMALL)
    table = eco_widget.jobs()
    assert len(parse(table._repr_html_()).images) == 1
    monkeypatch.delitem(sys.modules, "eco_widget._media", raising=False)
    monkeypatch.setitem(sys.modules, "av", None)
    tags = parse(table._repr_html_())
    assert tags.images == [] and [row[0] for row in tags.rows] == ["—"]


def test_posters_are_made_for_the_first_rows_only(
    make_server, home: Path, monkeypatch: pytest.MonkeyPatch
):
    server = make_server()
    with client_for(server) as client:
        for prompt in ("a moth", "a wren", "a vole"):
            client.generate(prompt, **SMALL)
    assert MAX_POSTERS == 50
    monkeypatch.setattr(jobs_table_module, "MAX_POSTERS", 2)
    tags = parse(eco_widget.jobs()._repr_html_())
    assert [row[0] for row in tags.rows] == ["<img>", "<img>", "—"]
    assert [image["alt"] for image in tags.images] == ["a vole", "a wren"]


def test_posters_are_decoded_only_when_the_table_is_shown(make_server, home: Path):
    """Listing jobs, in text or as records, loads no media code; the HTML view does."""
    server = make_server()
    with client_for(server) as client:
        client.generate("a swift", **SMALL)
    code = (
        "import sys, eco_widget\n"
        "media = {'eco_widget._media', 'numpy', 'av', 'PIL'}\n"
        "table = eco_widget.jobs()\n"
        "repr(table), table.to_records()\n"
        "print(sorted(media & set(sys.modules)))\n"
        "print(table._repr_html_().count('<img '), sorted(media & set(sys.modules)))\n"
    )
    result = run_python(code, home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "1 ['PIL', 'av', 'eco_widget._media', 'numpy']"]


# -- every state, journaled by hand -------------------------------------------------------
def test_what_is_missing_is_worded(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    record(journal, "vid_expiring", "completed", at=NOW - 6, expires_at=NOW + 3 * HOUR)
    record(journal, "vid_expired", "completed", at=NOW - 5, expires_at=NOW - 1)
    record(journal, "vid_lost", "queued", at=NOW - 4)
    journal.record_outcome("http://api.test", "vid_lost", LOST, "unknown to the server")
    record(journal, "vid_gone", "completed", at=NOW - 3, expires_at=NOW - HOUR)
    journal.record_outcome("http://api.test", "vid_gone", EXPIRED, "the URL expired")
    error = JobError("generation_error", "the GPU <fell> over")
    record(journal, "vid_failed", "failed", at=NOW - 2, error=error)
    saved = tmp_path / "deleted.mp4"
    saved.write_bytes(b"mp4")
    record(journal, "vid_deleted", "completed", at=NOW - 1, expires_at=NOW + HOUR)
    journal.record_saved("http://api.test", "vid_deleted", saved)
    saved.unlink()
    record(journal, "vid_running", "processing", at=NOW, progress=0.4)

    table = JobsTable(journal.entries(), path=journal.path, now=NOW)
    notes = {record_["job_id"]: record_["video"] for record_ in table.to_records()}
    assert notes == {
        "vid_running": "not saved yet",
        "vid_deleted": f"file missing: {saved}",
        "vid_failed": "failed: the GPU <fell> over",
        "vid_gone": "expired (the URL expired before it was saved)",
        "vid_lost": "lost (unknown to the server)",
        "vid_expired": "expired (the URL expired before it was saved)",
        "vid_expiring": "not saved · URL expires in 3 h",
    }
    text = repr(table)
    assert "processing 40%" in text
    assert text.splitlines()[-1].startswith("2 jobs are not saved yet: ")
    assert "the GPU &lt;fell&gt; over" in table._repr_html_()


def test_filters(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    for n in range(4):
        record(journal, f"vid_{n}", "completed" if n % 2 else "queued", at=NOW + n)
    sandbox_job = Job(id="vid_sandbox", status="queued", params=VideoParams.create("x", seed=1))
    journal.record(sandbox_job, base_url=f"sandbox:{sandbox_dir()}", account="a" * 12, now=NOW - 1)

    def ids(**options) -> list[str]:
        return [entry.job_id for entry in eco_widget.jobs(journal=journal, **options)]

    assert ids() == ["vid_3", "vid_2", "vid_1", "vid_0", "vid_sandbox"]
    assert ids(status="completed") == ["vid_3", "vid_1"]
    assert ids(limit=2) == ["vid_3", "vid_2"]
    assert ids(base_url="sandbox") == ["vid_sandbox"]
    assert ids(base_url="http://api.test/", status="queued") == ["vid_2", "vid_0"]
    assert ids(limit=None, status="lost") == []
    limited = eco_widget.jobs(journal=journal.path, limit=2)
    assert repr(limited).splitlines()[0] == f"the newest 2 jobs in the journal at {journal.path}"
    nothing = eco_widget.jobs(journal=journal, status="failed")
    assert repr(nothing) == f"no failed jobs in the journal at {journal.path}"


@pytest.mark.parametrize(
    ("options", "named"),
    [({"status": "done"}, "status"), ({"limit": 0}, "limit"), ({"limit": True}, "limit")],
)
def test_bad_options_name_the_parameter(tmp_path: Path, options: dict, named: str):
    with pytest.raises(InvalidParameterError) as caught:
        eco_widget.jobs(journal=tmp_path / "journal.sqlite3", **options)
    assert caught.value.param == named


# -- empty and damaged journals -----------------------------------------------------------
def test_an_empty_journal_says_where_it_looked(home: Path):
    table = eco_widget.jobs()
    assert len(table) == 0
    assert repr(table) == f"no jobs in the journal at {home / 'journal.sqlite3'}"
    assert "no jobs in the journal at" in table._repr_html_()
    assert table.to_records() == []
    assert not home.exists()  # reading creates nothing


def test_a_damaged_journal_raises_and_is_left_as_it_is(home: Path):
    home.mkdir()
    path = home / "journal.sqlite3"
    garbage = random.Random(1).randbytes(8192)
    path.write_bytes(garbage)
    with pytest.raises(JournalError) as caught:
        eco_widget.jobs()
    assert str(path) in str(caught.value) and "damaged" in str(caught.value)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in home.iterdir()) == ["journal.sqlite3"]


def run_python(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter whose data folder is ``home``."""
    env = {**os.environ, "ECOHASH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_table_keeps_the_import_light(tmp_path: Path):
    """Listing jobs loads neither httpx nor IPython."""
    code = (
        "import sys, eco_widget\n"
        "table = eco_widget.jobs()\n"
        "repr(table), table._repr_html_(), eco_widget.JobsTable\n"
        "print(sorted({'httpx', 'IPython', 'anywidget', 'numpy'} & "
        "{m.split('.')[0] for m in sys.modules}))\n"
    )
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_times_are_local_and_short(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    now = time.time()
    record(journal, "vid_today", "queued", at=now)
    record(journal, "vid_old", "queued", at=now - 400 * 86400)
    rows = repr(JobsTable(journal.entries(), path=journal.path, now=now)).splitlines()
    assert time.strftime("today %H:%M", time.localtime(now)) in rows[2]
    assert time.strftime("%Y-%m-%d %H:%M", time.localtime(now - 400 * 86400)) in rows[3]


# -- jobs ---------------------------------------------------------------------------------
def test_jobs_lists_the_journal(
    make_server: Any, cli_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code, out, err = run(capsys, "jobs")
    assert (code, err) == (0, "")
    assert out == f"no jobs in the journal at {cli_home / 'journal.sqlite3'}\n"
    code, out, err = run(capsys, "jobs", "--json")
    assert (code, out) == (0, "")
    assert err.startswith("no jobs in the journal at ")

    server = make_server(renderer=FailingRenderer(width=64, height=48))
    (tmp_path / "three.txt").write_text("a <b>bold</b> cat\nFAIL here\na dog\n")
    assert run(capsys, "batch", "three.txt", *FAST, *at(server))[0] == 1

    code, out, _ = run(capsys, "jobs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"3 jobs in the journal at {cli_home / 'journal.sqlite3'}"
    assert len(lines) == 5
    assert any("a <b>bold</b> cat" in line for line in lines)

    code, out, _ = run(capsys, "jobs", "--json", "--limit", "0")
    records = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["prompt"] for r in records) == ["FAIL here", "a <b>bold</b> cat", "a dog"]
    assert {r["status"] for r in records} == {"completed", "failed"}
    assert all(KEY not in line for line in out.splitlines())

    code, out, _ = run(capsys, "jobs", "--status", "failed", "--json")
    assert [json.loads(line)["prompt"] for line in out.splitlines()] == ["FAIL here"]
    code, out, _ = run(capsys, "jobs", "--limit", "1")
    assert (
        out.splitlines()[0] == f"the newest 1 job in the journal at {cli_home / 'journal.sqlite3'}"
    )


class HeldRenderer(SandboxRenderer):
    """The sandbox's renderer, reporting ``fraction`` done and then holding each render
    until the gate of its prompt is set; prompts containing FAIL fail then."""

    def __init__(self, fraction: float, gates: dict[str, threading.Event]):
        super().__init__(width=64, height=48)
        self.fraction, self.gates = fraction, gates

    def render(self, params: Any, progress: Any) -> bytes:
        progress(self.fraction)
        if not self.gates[params.prompt].wait(timeout=60):
            raise RuntimeError("the test never opened the gate")
        if "FAIL" in params.prompt:
            raise RuntimeError("the render broke")
        return super().render(params, progress)


def test_jobs_json_shows_a_completed_job_done_and_a_failed_one_as_far_as_it_got(
    make_server: Any, home: Path
):
    gates = {"a kite": threading.Event(), "FAIL a kite": threading.Event()}
    server = make_server(renderer=HeldRenderer(0.4, gates))
    jobs = []
    try:
        with client_for(server) as client:
            for prompt, gate in gates.items():
                job = client.submit(prompt, **SMALL)
                jobs.append(job)
                deadline_wait(
                    lambda job=job: client.get(job.id).progress == 0.4,
                    30,
                    f"{prompt!r} to be processing at 40 %",
                )
                # result() journals that snapshot, then lets the render go on and end.
                go_on = lambda _job, gate=gate: gate.set()  # noqa: E731
                if "FAIL" in prompt:
                    with pytest.raises(eco_widget.JobFailedError):
                        client.result(job, on_update=go_on)
                else:
                    assert client.result(job, on_update=go_on).job.status == "completed"
    finally:
        for gate in gates.values():
            gate.set()

    result = ecovideo(home, "jobs", "--json")
    assert result.returncode == 0, result.stderr
    records = {r["job_id"]: r for r in map(json.loads, result.stdout.splitlines())}
    done, failed = (records[job.id] for job in jobs)
    assert (done["status"], done["progress"]) == ("completed", 1.0)
    assert (failed["status"], failed["progress"]) == ("failed", 0.4)


@pytest.mark.parametrize("args", [["jobs", "--status", "done"], ["jobs", "--limit", "-1"]])
def test_jobs_bad_options_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]):
    assert main(args) == 2
    assert "usage: ecovideo jobs" in capsys.readouterr().err


# -- a damaged journal --------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["jobs"],
        ["jobs", "--json"],
        ["resume", "--base-url", "URL"],
        ["batch", "p.txt", "--base-url", "URL"],
    ],
)
def test_a_damaged_journal_is_one_line_exit_2_and_left_as_it_is(
    make_server: Any,
    cli_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
):
    server = make_server()
    cli_home.mkdir()
    path = cli_home / "journal.sqlite3"
    garbage = random.Random(2).randbytes(4096)
    path.write_bytes(garbage)
    (tmp_path / "p.txt").write_text("a cat\n")
    argv = [server.url if arg == "URL" else arg for arg in args]
    if "URL" in args:
        argv += ["--api-key", KEY]

    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    line = one_error_line(err)
    assert f"the job journal {path} is damaged" in line
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in cli_home.iterdir()) == ["journal.sqlite3"]
    assert posts(server) == 0


def test_a_damaged_journal_in_a_subprocess(tmp_path: Path):
    cli_home = tmp_path / "cli_home"
    cli_home.mkdir()
    garbage = random.Random(3).randbytes(4096)
    (cli_home / "journal.sqlite3").write_bytes(garbage)
    result = ecovideo(cli_home, "jobs")
    assert result.returncode == 2
    assert "is damaged" in one_error_line(result.stderr)
    assert (cli_home / "journal.sqlite3").read_bytes() == garbage


def test_rows_stay_on_one_line(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    record(journal, "vid_ansi", "queued", at=NOW, prompt="line one\nline two \x1b[31mred")
    rows = repr(JobsTable(journal.entries(), path=journal.path, now=NOW)).splitlines()
    assert len(rows) == 4  # heading, header, the row, the footer
    assert rows[2].endswith("line one line two ?[31mred")
