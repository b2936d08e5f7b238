"""A hostile server: everything it sends is untrusted.

Real misbehaving servers on loopback ports (one behaviour each) echo the request's
``Authorization`` header into error bodies and failed jobs, answer with job ids such as
``../../x`` and with terminal escape sequences. Through :class:`Client`,
:class:`AsyncClient` and ``ecovideo`` in a subprocess: the key is in no exception, log
record or output, no control character reaches the terminal, a bad id writes nothing,
and each POST the server counts is one the test expected.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from eco_widget import (
    APIConnectionError,
    AsyncClient,
    Client,
    InvalidRequestError,
    Job,
    JobFailedError,
    ServerError,
    UnexpectedResponseError,
)
from eco_widget._config import resolve_settings
from eco_widget._jobs_table import JobsTable
from eco_widget._journal import Journal
from eco_widget._models import check_job_id
from eco_widget._params import VideoParams
from eco_widget._protocol import Endpoint, error_from_response, job_from_response
from eco_widget._untrusted import escape_controls, redact, request_secrets, without_userinfo
from eco_widget._video import default_filename
from eco_widget.cli._errors import print_error
from tests.conftest import FAST_POLL

ROOT = Path(__file__).resolve().parents[2]
#: A key no other test uses, so that only this file's redaction can hide it.
KEY = "eco_hostile_5f3a9c1d7e"
ANSI = "\x1b[2J\x1b[31mpwned\r"
FAST = ("--frames", "5", "--fps", "8", "--steps", "20")


# -- the misbehaving server ----------------------------------------------------------------
Reply = tuple[int, Any]  # (status, JSON payload or bytes)


@dataclass
class Hostile:
    """A server whose every answer is ``behaviour(method, path, authorization)``."""

    behaviour: Callable[[str, str, str], Reply]
    posts: int = 0
    gets: int = 0
    authorizations: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def hostile() -> Iterator[Callable[[Callable[[str, str, str], Reply]], Hostile]]:
    servers: list[ThreadingHTTPServer] = []

    def start(behaviour: Callable[[str, str, str], Reply]) -> Hostile:
        state = Hostile(behaviour)

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                auth = self.headers.get("authorization") or ""
                state.authorizations.append(auth)
                if self.command == "POST":
                    state.posts += 1
                else:
                    state.gets += 1
                status, payload = state.behaviour(self.command, self.path, auth)
                if isinstance(payload, bytes):
                    body, kind = payload, "text/plain"
                else:
                    body, kind = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def job(job_id: str = "vid_ok1", status: str = "queued", **extra: Any) -> dict[str, Any]:
    return {"id": job_id, "object": "video.job", "status": status, "created": 1, **extra}


def echo_error(method: str, path: str, auth: str) -> Reply:
    """Refuses every submission, quoting the request's header in message and param."""
    return 400, {
        "error": {
            "type": "invalid_request_error",
            "message": f"cannot accept a request with Authorization: {auth}",
            "param": auth,
        }
    }


def echo_plain_error(method: str, path: str, auth: str) -> Reply:
    """A 502 whose body is not JSON: a proxy's page quoting the header."""
    return 502, f"<html>upstream rejected {auth}</html>".encode()


def echo_failure(method: str, path: str, auth: str) -> Reply:
    """Takes the job, then reports it failed with the header in the reason."""
    if method == "POST":
        return 200, job()
    failure = {"type": "generation_error", "message": f"the GPU saw {auth} and gave up"}
    return 200, job(status="failed", error=failure)


def failed_at_once(method: str, path: str, auth: str) -> Reply:
    """Answers the submission with a job that has already failed, quoting the header."""
    failure = {"type": "generation_error", "message": f"failed for {auth}"}
    return 200, job(status="failed", error=failure)


def escaping_id(method: str, path: str, auth: str) -> Reply:
    return 200, job("../../x")


def escaping_id_later(method: str, path: str, auth: str) -> Reply:
    if method == "POST":
        return 200, job()
    return 200, job("../../y", status="completed", video_url="http://127.0.0.1:9/v.mp4")


def ansi_error(method: str, path: str, auth: str) -> Reply:
    return 400, {"error": {"type": "invalid_request_error", "message": ANSI}}


def ansi_failure(method: str, path: str, auth: str) -> Reply:
    """A failed job whose error is an escape sequence (and the header)."""
    return 200, job(status="failed", error={"type": ANSI, "message": f"{ANSI} {auth}"})


def assert_no_key(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text), text


def assert_no_key_in(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    assert_no_key(str(exc), repr(exc), exc.args)
    for name in ("message", "param", "type", "request_id"):
        assert_no_key(getattr(exc, name, None))
    job_seen = getattr(exc, "job", None)
    if job_seen is not None:
        assert_no_key(repr(job_seen))
    for record in caplog.records:
        assert_no_key(record.getMessage(), record.args, record.exc_text)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data folder in tmp_path, tmp_path/cwd as the current folder."""
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path / "home"


def client(server: Hostile, **options: Any) -> Client:
    return Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL, **options)


# -- the key never leaves in text: Client ---------------------------------------------------
def test_an_error_body_echoing_the_header_is_redacted(hostile, home, caplog):
    caplog.set_level(logging.DEBUG)
    server = hostile(echo_error)
    with client(server) as c, pytest.raises(InvalidRequestError) as raised:
        c.submit("a red balloon", seed=1)
    assert server.posts == 1
    assert server.authorizations == [f"Bearer {KEY}"]  # the key was sent, and echoed
    assert_no_key_in(raised.value, caplog)
    assert "Authorization: ***" in raised.value.message
    assert raised.value.param == "***"


def test_a_plain_error_page_is_quoted_redacted(hostile, home, caplog):
    caplog.set_level(logging.DEBUG)
    server = hostile(echo_plain_error)
    with client(server) as c, pytest.raises(ServerError) as raised:
        c.submit("a red balloon", seed=1)
    assert server.posts == 1  # a submission is never sent twice
    assert_no_key_in(raised.value, caplog)
    assert "upstream rejected ***" in str(raised.value)


def test_a_failed_job_echoing_the_header_is_redacted(hostile, home, caplog):
    caplog.set_level(logging.DEBUG)
    server = hostile(echo_failure)
    with client(server) as c, pytest.raises(JobFailedError) as raised:
        c.generate("a red balloon", seed=1, timeout=20)
    assert server.posts == 1
    assert server.gets >= 1
    assert_no_key_in(raised.value, caplog)
    assert raised.value.job.error is not None
    assert raised.value.job.error.message == "the GPU saw *** and gave up"
    rows = Journal(home / "journal.sqlite3").entries()
    assert [(row.status, row.error_message) for row in rows] == [
        ("failed", "the GPU saw *** and gave up")
    ]


def test_a_job_fetched_by_id_is_redacted(hostile, home, caplog):
    caplog.set_level(logging.DEBUG)
    server = hostile(echo_failure)
    with client(server) as c:
        fetched = c.get("vid_ok1")
    assert server.posts == 0
    assert_no_key(repr(fetched))


# -- AsyncClient ---------------------------------------------------------------------------
@pytest.mark.anyio
async def test_async_error_body_and_failed_job_are_redacted(hostile, home, caplog):
    caplog.set_level(logging.DEBUG)
    refusing, failing = hostile(echo_error), hostile(echo_failure)
    async with AsyncClient(api_key=KEY, base_url=refusing.url) as c:
        with pytest.raises(InvalidRequestError) as refused:
            await c.submit("a red balloon", seed=1)
    async with AsyncClient(api_key=KEY, base_url=failing.url, poll_policy=FAST_POLL) as c:
        with pytest.raises(JobFailedError) as failed:
            await c.generate("a red balloon", seed=2, timeout=20)
    assert (refusing.posts, failing.posts) == (1, 1)
    assert_no_key_in(refused.value, caplog)
    assert_no_key_in(failed.value, caplog)


# -- a job id that is not one --------------------------------------------------------------
def test_an_escaping_job_id_writes_nothing(hostile, home, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server = hostile(escaping_id)
    before = {path for path in tmp_path.rglob("*")}
    with client(server) as c, pytest.raises(UnexpectedResponseError) as raised:
        c.generate("a red balloon", seed=1, timeout=20)
    assert server.posts == 1
    assert server.gets == 0
    assert "the server's job id '../../x' (field id) is not a job id" in str(raised.value)
    assert_no_key_in(raised.value, caplog)
    # Only the data folder changed: its journal (the row written before the POST, kept as
    # "outcome unknown": the job may exist), and no video anywhere.
    made = {path for path in tmp_path.rglob("*")} - before
    assert all(path.is_relative_to(home) for path in made), sorted(made)
    assert not (home / "videos").exists() or not any((home / "videos").iterdir())
    assert not (tmp_path.parent / "x").exists()
    rows = Journal(home / "journal.sqlite3").entries()
    assert len(rows) == 1 and rows[0].is_unknown
    assert rows[0].job_id.startswith("submitting-")
    assert "may have been created" in (rows[0].error_message or "")


def test_an_escaping_job_id_in_a_poll_is_refused(hostile, home, tmp_path):
    server = hostile(escaping_id_later)
    with client(server) as c, pytest.raises(UnexpectedResponseError, match=r"'\.\./\.\./y'"):
        c.generate("a red balloon", seed=1, timeout=20)
    assert server.posts == 1
    assert not (home / "videos").exists() or not any((home / "videos").iterdir())
    assert not (tmp_path.parent / "y").exists()


@pytest.mark.parametrize(
    "bad",
    ["../../x", "a/b", "a\\b", "..", "", " vid", "vid\n", "vid\x1b[2J", "é", "x" * 129, 7, None],
)
def test_job_ids_outside_the_pattern_are_refused(bad):
    with pytest.raises(UnexpectedResponseError) as raised:
        Job.from_payload({"id": bad, "status": "queued"})
    assert "\x1b" not in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(UnexpectedResponseError):
        Job(id=bad, status="queued")  # nor from the journal, nor by hand


@pytest.mark.parametrize("good", ["vid_abc123", "A-Z_0-9", "x" * 128, "submitting-0123abcd"])
def test_job_ids_inside_the_pattern_pass(good):
    assert Job.from_payload({"id": good, "status": "queued"}).id == good
    assert check_job_id(good) == good


def test_a_job_id_holding_the_key_is_refused_without_showing_it():
    with pytest.raises(UnexpectedResponseError) as raised:
        Job.from_payload({"id": KEY, "status": "queued"}, secrets=[KEY])
    assert "(field id) holds the API key" in str(raised.value)
    assert_no_key(str(raised.value))


def test_a_journal_row_with_a_bad_id_gives_no_job(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.record(
        Job(id="vid_fine", status="queued", params=VideoParams.create("x", seed=1)),
        base_url="http://h",
        account="a",
    )
    with closing(sqlite3.connect(journal.path)) as db, db:  # a tampered file
        db.execute("UPDATE jobs SET job_id = '../../etc'")
    (entry,) = journal.entries()
    with pytest.raises(UnexpectedResponseError, match="is not a job id"):
        entry.job  # noqa: B018


def test_default_filenames_are_built_from_safe_parts():
    params = VideoParams.create("A red/../balloon\x1b[2J over  the sea", seed=12)
    name = default_filename(Job(id="vid_1", status="completed", params=params), unique=True)
    assert name == "a-red-balloon-2j-over-the-sea-s12-vid_1.mp4"
    assert default_filename(Job(id="vid_1", status="completed")) == "vid_1.mp4"


# -- responses become errors and jobs redacted ---------------------------------------------
def _response(status: int, content: bytes, headers: dict[str, str] | None = None):
    endpoint = Endpoint("http://127.0.0.1:1", KEY)
    request = endpoint.submit(VideoParams.create("x", seed=1))
    return httpx.Response(status, headers=headers or {}, content=content, request=request)


def test_every_text_of_an_error_reply_is_redacted():
    response = _response(
        502,
        f"proxy error: {KEY}".encode(),
        {"x-request-id": f"req_{KEY}", "content-type": "text/plain"},
    )
    response.extensions["reason_phrase"] = f"Bad {KEY}".encode()
    error = error_from_response(response, now=0.0)
    assert_no_key(str(error), error.message, error.request_id)
    assert "proxy error: ***" in error.message


def test_a_non_json_job_reply_is_redacted():
    response = _response(200, b"<html>", {"content-type": f"text/html; {KEY}"})
    with pytest.raises(UnexpectedResponseError) as raised:
        job_from_response(response)
    assert_no_key(str(raised.value))


def test_the_whole_header_and_its_credentials_are_secrets():
    request = httpx.Request("GET", "http://u:pw1234@h/", headers={"Authorization": "Basic abcd"})
    assert set(request_secrets(request)) == {"Basic abcd", "abcd", "pw1234"}
    assert redact("x Basic abcd y abcd", request_secrets(request)) == "x *** y ***"


# -- a key written into the base URL -------------------------------------------------------
def test_userinfo_in_the_base_url_is_dropped_everywhere(monkeypatch, hostile, home):
    monkeypatch.setenv("ECOHASH_API_KEY", KEY)
    server = hostile(echo_error)
    secret_url = server.url.replace("http://", "http://me:url_secret_77@")
    settings = resolve_settings(None, secret_url)
    assert settings.base_url == server.url
    with Client(base_url=secret_url) as c:
        assert "url_secret_77" not in repr(c) + c.base_url + c.account
        with pytest.raises(InvalidRequestError):
            c.submit("x", seed=1)
    assert server.authorizations == [f"Bearer {KEY}"]  # never sent as Basic auth
    assert without_userinfo("https://a:b@h:1/p?q") == "https://h:1/p?q"


def test_no_key_error_does_not_show_the_base_urls_password(monkeypatch):
    monkeypatch.delenv("ECOHASH_API_KEY", raising=False)
    with pytest.raises(Exception) as raised:
        resolve_settings(None, "https://me:url_secret_78@api.example")
    assert "url_secret_78" not in str(raised.value)
    assert "dropped" in str(raised.value)


def test_a_connection_error_does_not_show_the_base_urls_password(unused_port, home):
    url = f"http://me:url_secret_79@127.0.0.1:{unused_port}"
    with (
        Client(api_key=KEY, base_url=url, max_retries=0) as c,
        pytest.raises(APIConnectionError) as raised,
    ):
        c.submit("x", seed=1)
    assert "url_secret_79" not in str(raised.value) + repr(raised.value)
    assert_no_key(str(raised.value))


# -- control characters ---------------------------------------------------------------------
def test_controls_are_escaped():
    assert escape_controls(ANSI) == "\\x1b[2J\\x1b[31mpwned\\r"
    assert escape_controls("a\u202eb\x85c\x7f") == "a\\u202eb\\x85c\\x7f"
    assert escape_controls("a\nb\tc", keep="\n\t") == "a\nb\tc"
    assert json.loads(escape_controls(json.dumps("\x85\x7f", ensure_ascii=False), json=True))


def test_print_error_writes_no_control_character(capsys):
    print_error(f"server says {ANSI}\nsecond line")
    err = capsys.readouterr().err
    assert err == "ecovideo: error: server says \\x1b[2J\\x1b[31mpwned\\r second line\n"


def test_the_jobs_table_shows_no_control_character(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    params = VideoParams.create(f"prompt {ANSI}\u202e", seed=1)
    failed = Job.from_payload(
        job("vid_2", "failed", error={"type": "e", "message": ANSI}), params=params
    )
    journal.record(failed, base_url="http://h", account="a")
    shown = repr(JobsTable(journal.entries(), path=journal.path))
    assert not any(char in shown for char in "\x1b\r\u202e")


# -- ecovideo, in a subprocess --------------------------------------------------------------
def ecovideo(server: Hostile, tmp_path: Path, *args: str, base_url: str | None = None):
    env = {key: value for key, value in os.environ.items() if not key.startswith("ECOHASH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["ECOHASH_HOME"] = str(tmp_path / "home")
    env["ECOHASH_API_KEY"] = KEY
    env["ECOHASH_BASE_URL"] = base_url or server.url
    return subprocess.run(
        [sys.executable, "-m", "eco_widget.cli", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("behaviour", [echo_error, echo_plain_error, failed_at_once])
def test_cli_never_prints_the_key(hostile, tmp_path, behaviour):
    server = hostile(behaviour)
    result = ecovideo(server, tmp_path, "generate", "a red balloon", *FAST, "--seed", "3")
    assert result.returncode == 1, result.stderr
    assert server.posts == 1
    assert server.authorizations[0] == f"Bearer {KEY}"
    assert KEY.encode() not in result.stdout + result.stderr
    assert b"***" in result.stderr


@pytest.mark.parametrize("behaviour", [ansi_error, ansi_failure])
def test_cli_prints_no_control_characters(hostile, tmp_path, behaviour):
    server = hostile(behaviour)
    result = ecovideo(server, tmp_path, "generate", "a red balloon", *FAST, "--seed", "3")
    assert result.returncode == 1, result.stderr
    assert server.posts == 1
    assert b"\x1b" not in result.stderr + result.stdout
    assert b"\r" not in result.stderr + result.stdout
    assert b"\\x1b[2J\\x1b[31mpwned\\r" in result.stderr
    assert KEY.encode() not in result.stdout + result.stderr


def test_cli_with_an_escaping_job_id_writes_nothing(hostile, tmp_path):
    server = hostile(escaping_id)
    result = ecovideo(server, tmp_path, "generate", "a red balloon", *FAST, "--seed", "3")
    assert result.returncode == 1
    assert server.posts == 1
    assert b"is not a job id" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["home"]
    assert not (tmp_path / "home" / "videos").exists()


def test_cli_hides_a_password_in_the_base_url(hostile, tmp_path):
    server = hostile(echo_error)
    secret_url = server.url.replace("http://", "http://me:url_secret_80@")
    result = ecovideo(server, tmp_path, "generate", "x", *FAST, base_url=secret_url)
    assert result.returncode == 1
    assert server.authorizations == [f"Bearer {KEY}"]
    assert b"url_secret_80" not in result.stdout + result.stderr
    assert KEY.encode() not in result.stdout + result.stderr


def test_the_http_libraries_log_lines_are_redacted(home, caplog):
    """httpx logs each response's status line (a server's reason phrase) and httpcore
    its headers: a server putting the key there does not get it into a log record."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = b'{"error": {"type": "invalid_request_error", "message": "no"}}'
            self.send_response(400, f"Bad {self.headers.get('authorization')}")
            self.send_header("X-Echo", self.headers.get("authorization") or "")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    caplog.set_level(logging.DEBUG)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with Client(api_key=KEY, base_url=url) as c, pytest.raises(InvalidRequestError) as info:
            c.submit("a cat", num_frames=1)
    finally:
        server.shutdown()
        server.server_close()
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    assert_no_key_in(info.value, caplog)
