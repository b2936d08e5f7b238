"""A misbehaving video API on a loopback port: the hostile server of these tests.

It speaks just enough of the contract to be believed (a submit answers a queued job, a
read answers the job, a completed job has a video URL) and misbehaves in one chosen way
per test: ``submit`` (``"ok"`` or ``"429"`` forever), ``status`` (``"completed"`` or
``"processing"`` forever) and ``video`` (``"mp4"``, ``"html"``, ``"zeros"``, ``"huge"``:
announces 10 GiB, ``"endless"``: a chunked MP4-looking body that never ends). It counts
what reached it, so every test can assert how many jobs were submitted.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MP4_HEAD", "FakeApi"]

#: The start of an MP4: an ``ftyp`` box.
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2mp41"
#: The id of the first job a fake server creates (then 2, 3 …).
JOB_ID = f"vid_{1:024x}"


@dataclass
class FakeApi:
    """The server and its behaviour; ``url`` once started."""

    submit: str = "ok"
    status: str = "completed"
    video: str = "mp4"
    posts: int = 0
    job_reads: int = 0
    video_reads: int = 0
    #: Bytes of the endless body written so far.
    streamed: int = 0
    _server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeApi:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                api.posts += 1
                if api.submit == "429":
                    self._json(
                        429,
                        {"error": {"type": "rate_limit_error", "message": "busy"}},
                        {"Retry-After": "1"},
                    )
                    return
                self._json(200, api._job("queued", f"vid_{api.posts:024x}"))

            def do_GET(self) -> None:
                if self.path.startswith("/v1/video/generations/"):
                    api.job_reads += 1
                    status = "completed" if api.status == "completed" else "processing"
                    self._json(200, api._job(status, self.path.rsplit("/", 1)[1]))
                elif self.path.startswith("/video.mp4"):
                    api.video_reads += 1
                    self._video()
                else:
                    self._json(404, {"error": {"type": "not_found_error", "message": "no"}})

            def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _video(self) -> None:
                kind = api.video
                if kind in ("mp4", "html", "zeros"):
                    body = {
                        "mp4": MP4_HEAD + bytes(range(256)) * 64,
                        "html": b"<!DOCTYPE html><html><body>Error 500</body></html>" * 20,
                        "zeros": bytes(4096),
                    }[kind]
                    self.send_response(200)
                    self.send_header("Content-Type", "video/mp4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                if kind == "huge":
                    self.send_header("Content-Length", str(10 * 1024**3))
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = MP4_HEAD + bytes(65536 - len(MP4_HEAD))
                try:
                    while not api._stop.is_set():
                        if kind == "huge":
                            self.wfile.write(chunk)
                        else:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        api.streamed += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _job(self, status: str, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = {
            "id": job_id,
            "object": "video.job",
            "status": status,
            "created": int(time.time()),
            "model": "wan21-t2v-1-3b",
        }
        if status == "completed":
            job.update(
                video_url=f"{self.url}/video.mp4?sig=1",
                completed_at=int(time.time()),
                duration_seconds=1.0,
                expires_at=int(time.time()) + 86400,
            )
        return job

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
