"""Hostile HTTP, spoken over raw sockets: invalid prompts, malformed numbers in headers
and query strings, bodies that never arrive, bad ``Content-Length`` and a forged ``Host``.

Every answer is a 4xx with the contract's JSON error body, never a 500 nor a hang, and
every test checks what the server counted: the submits it saw and the jobs it created.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from eco_widget._params import MODEL, VideoParams
from eco_widget.server import ServerConfig
from eco_widget.server._records import hash_key
from eco_widget.server._store import JobStore
from eco_widget.server._timing import Plan
from tests.server.conftest import DEADLINE, SERVER_KEY

NO_JOBS = {"queued": 0, "processing": 0, "completed": 0, "failed": 0}
#: How long a connection may take to be closed after the answer: well under uvicorn's
#: 5 s keep-alive timeout, which closes any idle connection.
CLOSE_WAIT = 2.0


@dataclass
class Answer:
    """One raw HTTP response, and whether the server closed the connection after it."""

    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool | None  # None: not looked at
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/json", self.headers
        error = self.json()["error"]
        assert set(error) <= {"type", "message", "param"}
        assert error["type"] and error["message"]
        return error


def _read_until(sock: socket.socket, buffer: bytearray, done: Any, deadline: float) -> bool:
    """Receive into ``buffer`` until ``done(buffer)``; False when the peer closed first."""
    while not done(buffer):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            return False
        buffer += chunk
    return True


def exchange(url: str, request: bytes, *, closes: bool = False) -> Answer:
    """Send ``request`` as is to the server at ``url`` and read one response; the
    client never closes its side first (as a client that hangs). With ``closes``, wait
    (up to :data:`CLOSE_WAIT`) to see whether the server closes the connection after it."""
    parts = urlsplit(url)
    deadline = time.monotonic() + DEADLINE
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE) as sock:
        sock.sendall(request)
        buffer = bytearray()
        assert _read_until(sock, buffer, lambda data: b"\r\n\r\n" in data, deadline), buffer
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        body = bytearray(rest)
        assert _read_until(sock, body, lambda data: len(data) >= length, deadline)
        seconds = time.monotonic() - started
        closed = None
        if closes:  # closed: the next read sees the end of the stream, or a reset
            try:
                sock.settimeout(CLOSE_WAIT)
                closed = sock.recv(1) == b""
            except ConnectionResetError:
                closed = True
            except TimeoutError:
                closed = False
    return Answer(int(status_line.split()[1]), headers, bytes(body[:length]), closed, seconds)


def request_bytes(
    method: str,
    target: str,
    *,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    key: str | None = SERVER_KEY,
    content_length: bool = True,
    host: str = "127.0.0.1",
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    if body and content_length:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def submit_bytes(body: bytes, **options: Any) -> bytes:
    return request_bytes("POST", "/v1/video/generations", body=body, **options)


def posts(api) -> int:
    return api.server.stats.totals()["requests"]["posts"]


def jobs(api) -> dict[str, int]:
    return api.stats()["jobs"]


# -- prompts that are not Unicode text -------------------------------------------------


@pytest.mark.parametrize("escaped", ["\\ud800", "caf\\udcff", "\\udfff tail", "\\ud83d x"])
def test_a_lone_surrogate_prompt_is_a_400_and_creates_no_job(api, escaped):
    body = f'{{"model": "{MODEL}", "prompt": "{escaped}"}}'.encode("ascii")
    answer = exchange(api.url, submit_bytes(body))
    assert answer.status == 400
    error = answer.error()
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "prompt"
    assert "unpaired surrogate" in error["message"]
    assert posts(api) == 1
    assert jobs(api) == NO_JOBS
    # The server goes on, and a paired escape is one character, accepted.
    fine = f'{{"model": "{MODEL}", "prompt": "smile \\ud83d\\ude00"}}'.encode("ascii")
    answer = exchange(api.url, submit_bytes(fine))
    assert answer.status == 200, answer.body
    assert answer.json()["prompt"] == "smile \U0001f600"
    assert posts(api) == 2
    assert sum(jobs(api).values()) == 1


def test_a_surrogate_field_name_is_a_400_with_its_escape(api):
    body = f'{{"model": "{MODEL}", "prompt": "a cat", "\\ud800": 1}}'.encode("ascii")
    answer = exchange(api.url, submit_bytes(body))
    assert answer.status == 400
    assert answer.error()["param"] == "\\ud800"
    assert posts(api) == 1
    assert jobs(api) == NO_JOBS


def test_a_stored_surrogate_prompt_fails_its_job_instead_of_every_get(start_api, data_dir):
    """A job stored with such a prompt (by a server before this check) is answered 200,
    and failed with a message, never 500."""
    store = JobStore(data_dir)
    try:
        record = store.create_job(
            hash_key(SERVER_KEY),
            VideoParams(prompt="caf\udcff", seed=3),  # built past the validation
            Plan(0.0, 0.0),
            owner="a server long gone",
            max_active=5,
            now=time.time(),
        )
    finally:
        store.close()
    api = start_api()
    job = api.completed(record.id)
    assert job["status"] == "failed"
    assert "unpaired surrogate" in job["error"]["message"]
    assert api.get(record.id).status_code == 200
    assert posts(api) == 0
    assert jobs(api) == {**NO_JOBS, "failed": 1}


# -- malformed numbers in headers and query strings ------------------------------------


@dataclass
class Video:
    """A server with one completed job, and what it had counted once it was done."""

    api: Any
    path: str
    query: str
    size: int
    counted: dict[str, int]

    def counts_one_more_video_get(self) -> None:
        seen = self.api.server.stats.totals()["requests"]
        assert seen == {**self.counted, "video_gets": self.counted["video_gets"] + 1}
        assert jobs(self.api) == {**NO_JOBS, "completed": 1}


@pytest.fixture
def video(api) -> Video:
    job = api.submit().json()
    done = api.completed(job["id"])
    assert done["status"] == "completed"
    url = urlsplit(done["video_url"])
    size = len(api.client.get(done["video_url"]).content)
    counted = api.server.stats.totals()["requests"]
    assert counted["posts"] == 1
    return Video(api, url.path, url.query, size, counted)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("9" * 5000 + "-", 416, id="start-5000-digits"),
        pytest.param("0" * 5000 + "1-2", 206, id="start-5000-leading-zeros"),
        pytest.param("0-" + "9" * 5000, 206, id="end-5000-digits"),
        pytest.param("-" + "9" * 5000, 206, id="suffix-5000-digits"),
        pytest.param("9" * 5000 + "-" + "9" * 4000, 416, id="both-huge"),
        pytest.param("\xb2-3", 416, id="superscript-two"),  # not an ASCII digit
        pytest.param("-0", 416, id="empty-suffix"),
        pytest.param("abc-def", 416, id="letters"),
    ],
)
def test_range_numbers_of_any_length_are_answered_4xx_or_206(video, spec, expected):
    target = f"{video.path}?{video.query}"
    range_header = [("Range", f"bytes={spec}")]
    answer = exchange(video.api.url, request_bytes("GET", target, headers=range_header))
    assert answer.status == expected, answer.body[:200]
    if expected == 416:
        assert answer.headers["content-range"] == f"bytes */{video.size}"
        assert answer.error()["type"] == "invalid_request_error"
    else:
        assert answer.headers["content-range"].endswith(f"/{video.size}")
    video.counts_one_more_video_get()


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("expires=" + "9" * 5000 + "&signature={sig}", id="expires-5000-digits"),
        pytest.param("expires=" + "9" * 45 + "&signature={sig}", id="expires-45-digits"),
        pytest.param("expires=abc&signature={sig}", id="expires-letters"),
        pytest.param("expires=-5&signature={sig}", id="expires-negative"),
        pytest.param("expires=1e10&signature={sig}", id="expires-float"),
        pytest.param("expires=0{exp}&signature={sig}", id="expires-leading-zero"),
        pytest.param("expires=%ff%fe&signature={sig}", id="expires-not-utf8"),
        pytest.param("expires=%D9%A3%D9%A3&signature={sig}", id="expires-arabic-digits"),
        pytest.param(  # the last one counts
            "expires={exp}&expires=" + "9" * 5000 + "&signature={sig}", id="expires-twice"
        ),
        pytest.param("expires={exp}&signature=" + "f" * 5000, id="signature-5000-chars"),
        pytest.param("expires={exp}&signature=%ff", id="signature-not-utf8"),
        pytest.param("", id="unsigned"),
    ],
)
def test_signed_url_parameters_of_any_shape_are_a_403(video, query):
    signed = dict(pair.split("=") for pair in video.query.split("&"))
    query = query.replace("{sig}", signed["signature"]).replace("{exp}", signed["expires"])
    answer = exchange(video.api.url, request_bytes("GET", f"{video.path}?{query}", key=None))
    assert answer.status == 403, answer.body[:200]
    assert answer.error()["type"] == "permission_error"
    video.counts_one_more_video_get()


# -- bodies that never arrive, bad Content-Length --------------------------------------


@pytest.mark.parametrize("sent", [b"", b'{"model": '])
def test_a_body_that_never_arrives_is_cut_off_after_body_timeout(start_api, sent):
    api = start_api(body_timeout=0.5)
    request = submit_bytes(b"", headers=[("Content-Length", "100")]) + sent
    answer = exchange(api.url, request, closes=True)
    assert answer.status == 408
    error = answer.error()
    assert error["type"] == "invalid_request_error"
    assert f"{len(sent)} bytes received of 100" in error["message"]
    assert answer.closed
    assert 0.5 <= answer.seconds < 5.0
    assert posts(api) == 1
    assert jobs(api) == NO_JOBS


def test_body_timeout_must_be_positive(data_dir):
    for bad in (0, -1, float("inf"), "5"):
        with pytest.raises(ValueError, match="body_timeout"):
            ServerConfig(api_keys=(SERVER_KEY,), data_dir=data_dir, body_timeout=bad)


@pytest.mark.parametrize(
    "lengths",
    [
        pytest.param(["-1"], id="negative"),
        pytest.param(["-0"], id="minus-zero"),
        pytest.param(["+2"], id="plus"),
        pytest.param(["0x2"], id="hex"),
        pytest.param(["2", "3"], id="conflicting"),
        pytest.param(["2, 3"], id="comma-list"),
        pytest.param(["9" * 25], id="25-digits"),
        pytest.param(["9" * 5000], id="5000-digits"),
        pytest.param([" "], id="blank"),
    ],
)
def test_a_bad_content_length_is_a_json_400(api, lengths):
    headers = [("Content-Length", value) for value in lengths]
    request = submit_bytes(b"{}", headers=headers, content_length=False)
    answer = exchange(api.url, request, closes=True)
    assert answer.status == 400
    assert answer.error()["type"] == "invalid_request_error"
    assert "Content-Length" in answer.error()["message"]
    assert answer.headers["x-request-id"].startswith("req_")
    assert answer.closed
    assert posts(api) == 0  # refused while parsing: the application never saw it
    assert jobs(api) == NO_JOBS


def test_a_repeated_equal_content_length_is_one(api):
    body = json.dumps({"model": MODEL, "prompt": "twice announced"}).encode()
    length = str(len(body))
    request = submit_bytes(
        body, headers=[("Content-Length", length), ("Content-Length", length)], content_length=False
    )
    answer = exchange(api.url, request)
    assert answer.status == 200, answer.body
    assert posts(api) == 1
    assert sum(jobs(api).values()) == 1


def test_a_declared_body_over_the_limit_is_a_413_and_closes(api):
    request = submit_bytes(b"", headers=[("Content-Length", "9" * 20)])
    answer = exchange(api.url, request, closes=True)
    assert answer.status == 413
    assert answer.error()["type"] == "invalid_request_error"
    assert answer.closed
    assert posts(api) == 1
    assert jobs(api) == NO_JOBS


# -- video_url from the server's own address, never from Host ---------------------------


def test_a_forged_host_header_does_not_move_video_urls(api):
    body = json.dumps({"model": MODEL, "prompt": "a lighthouse at night"}).encode()
    answer = exchange(api.url, submit_bytes(body, host="evil.example"))
    assert answer.status == 200, answer.body
    job_id = answer.json()["id"]
    api.completed(job_id)
    target = f"/v1/video/generations/{job_id}"
    answer = exchange(api.url, request_bytes("GET", target, host="evil.example"))
    assert answer.status == 200
    assert answer.json()["video_url"].startswith(f"{api.url}/v1/videos/{job_id}.mp4?")
    answer = exchange(api.url, request_bytes("GET", "/openapi.json", host="evil.example:666"))
    assert answer.json()["servers"] == [{"url": api.url}]
    assert posts(api) == 1
    assert jobs(api) == {**NO_JOBS, "completed": 1}


def test_public_url_is_the_base_of_video_urls(start_api):
    api = start_api(public_url="https://videos.example.org/")
    job = api.submit().json()
    done = api.completed(job["id"])
    assert done["video_url"].startswith(f"https://videos.example.org/v1/videos/{job['id']}.mp4?")
    # The link is the server's own: with the public base swapped back, it downloads.
    local = done["video_url"].replace("https://videos.example.org", api.url)
    assert api.client.get(local).status_code == 200
    assert posts(api) == 1
    assert jobs(api) == {**NO_JOBS, "completed": 1}


@pytest.mark.parametrize(
    "url", ["videos.example.org", "ftp://x.org", "http://x.org/?a=1", "http://[::1", "http:// x"]
)
def test_public_url_must_be_an_http_url(data_dir, url):
    with pytest.raises(ValueError, match="public_url"):
        ServerConfig(api_keys=(SERVER_KEY,), data_dir=data_dir, public_url=url)


# -- the application alone, as another ASGI server would run it -------------------------


async def _call(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> Any:
    """One request straight to the ASGI app (no lifespan: no job can run)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"evil.example"), *headers],
        "server": ("127.0.0.5", 8123),
        "client": ("127.0.0.9", 50000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return status, json.loads(body)


@pytest.mark.anyio
@pytest.mark.parametrize("lengths", [[b"2", b"2"], [b"2", b"3"], [b"\xb2"], [b"9" * 21]])
async def test_the_app_itself_refuses_a_bad_content_length(data_dir, lengths):
    """Behind a server whose parser lets them through, they are still a 400."""
    from eco_widget.server import create_app

    app = create_app(ServerConfig(api_keys=(SERVER_KEY,), data_dir=data_dir))
    try:
        auth = [(b"authorization", f"Bearer {SERVER_KEY}".encode())]
        headers = auth + [(b"content-length", value) for value in lengths]
        status, body = await _call(app, "POST", "/v1/video/generations", headers)
        assert status == 400
        assert "Content-Length" in body["error"]["message"]
        assert app.state.stats.totals()["requests"]["posts"] == 1
        assert app.state.store.counts_by_status(hash_key(SERVER_KEY)) == NO_JOBS
    finally:
        app.state.store.close()


@pytest.mark.anyio
async def test_the_app_alone_builds_urls_from_the_connection_not_host(data_dir):
    from eco_widget.server import create_app

    app = create_app(ServerConfig(api_keys=(SERVER_KEY,), data_dir=data_dir))
    try:
        status, document = await _call(app, "GET", "/openapi.json", [])
        assert status == 200
        assert document["servers"] == [{"url": "http://127.0.0.5:8123"}]
        assert app.state.stats.totals()["requests"]["posts"] == 0
    finally:
        app.state.store.close()
