"""The Starlette application: the contract's routes over the job store and runner.

Routes::

    POST /v1/video/generations          submit (bearer auth)
    GET  /v1/video/generations/{id}     poll (bearer auth)
    GET  /v1/videos/{id}.mp4            download (pre-signed URL, Range support)
    GET  /openapi.json                  the OpenAPI 3.1 document
    GET  /_sandbox/stats                counters for the calling key (bearer auth)

Every error is the contract's JSON body and every response carries ``x-request-id``.

URLs the server hands out (``video_url``, the OpenAPI ``servers``) start with its public
base URL: ``ServerConfig.public_url``, else the address it listens on (set with
:func:`set_listen_url` once bound), else the local address of the connection. Never the
request's ``Host`` header: a client could point other clients' links anywhere.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Scope

from .._exceptions import InvalidParameterError
from .._params import validate_body
from ._auth import KeyRing
from ._config import ServerConfig
from ._errors import APIErrorResponse, exception_handlers
from ._faults import FaultMiddleware, RouteKind, video_job_id
from ._jobs import JobRunner
from ._layers import KeepConnection, LayeredStarlette, RequestId
from ._openapi import openapi_document
from ._records import JobRecord, TooManyActiveJobs
from ._renderer import SandboxRenderer
from ._signing import ExpiredURL, InvalidSignature, UrlSigner, load_or_create_secret
from ._stats import ServerStats
from ._store import JobStore
from ._timing import TimingPlanner
from ._video import RangeNotSatisfiable, VideoFileResponse, file_size, parse_range
from ._views import job_object, short

__all__ = ["create_app", "set_listen_url"]

_CONTENT_LENGTH = re.compile(r"[0-9]{1,20}")


def _rng(seed: int | None, purpose: str) -> random.Random:
    return random.Random(f"{seed}:{purpose}") if seed is not None else random.Random()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _duration_text(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds:g} s"


class _API:
    """The route handlers and what they share."""

    def __init__(
        self,
        config: ServerConfig,
        store: JobStore,
        runner: JobRunner,
        signer: UrlSigner,
        stats: ServerStats,
        keys: KeyRing,
    ) -> None:
        self.config = config
        self.store = store
        self.runner = runner
        self.signer = signer
        self.stats = stats
        self.keys = keys

    def base_url(self, request: Request) -> str:
        """The base of the URLs handed out (see the module's docstring)."""
        configured = self.config.public_url or request.app.state.listen_url
        if configured:
            return str(configured)
        host, port = request.scope.get("server") or ("127.0.0.1", 80)
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}"

    def _job(self, record: JobRecord, request: Request) -> dict[str, Any]:
        return job_object(
            record,
            base_url=self.base_url(request),
            signer=self.signer,
            url_ttl=self.config.url_ttl,
            progress=self.runner.progress(record, time.time()),
        )

    async def submit(self, request: Request) -> Response:
        key_hash = self.keys.authenticate(request.headers)
        body = await self._read_body(request)
        if not body.strip():
            raise APIErrorResponse(
                400,
                "invalid_request_error",
                "The request body is empty: send a JSON object with at least model and prompt.",
            )
        try:
            data = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise APIErrorResponse(
                400,
                "invalid_request_error",
                f"The request body is not valid JSON ({short(str(exc), 120)}): send a JSON "
                "object with at least model and prompt.",
            ) from None
        try:
            params = validate_body(data).with_seed()
        except InvalidParameterError as exc:
            raise APIErrorResponse(
                400, "invalid_request_error", exc.message, param=exc.param
            ) from None
        try:
            record = self.runner.submit(key_hash, params, self.config.max_active_per_key)
        except TooManyActiveJobs as exc:
            raise self._too_many(exc) from None
        return JSONResponse(self._job(record, request))

    async def _read_body(self, request: Request) -> bytes:
        """The body, refused when over the limit (413), announced wrongly (400) or
        not all there within ``body_timeout`` seconds (408, connection closed)."""
        limit = self.config.max_body_bytes
        declared = request.headers.getlist("content-length")
        if declared:
            value = declared[0].strip()
            if len(declared) > 1 or not _CONTENT_LENGTH.fullmatch(value):
                raise APIErrorResponse(
                    400,
                    "invalid_request_error",
                    "Invalid Content-Length header: send one, a whole number of bytes.",
                    headers={"Connection": "close"},
                )
            if int(value) > limit:
                raise self._too_large(int(value))
        chunks: list[bytes] = []
        received = 0
        timeout = self.config.body_timeout
        try:
            with anyio.fail_after(timeout):
                async for chunk in request.stream():
                    received += len(chunk)
                    if received > limit:
                        raise self._too_large(None)
                    chunks.append(chunk)
        except ClientDisconnect:
            # Nobody reads this answer; without it Starlette logs a 500.
            raise APIErrorResponse(
                400, "invalid_request_error", "The client left before sending its body."
            ) from None
        except TimeoutError:
            announced = f" of {int(declared[0])}" if declared else ""
            raise APIErrorResponse(
                408,
                "invalid_request_error",
                f"The request body did not arrive within {timeout:g} s ({received} bytes "
                f"received{announced}): send the whole body with the request.",
                headers={"Connection": "close"},
            ) from None
        return b"".join(chunks)

    def _too_large(self, size: int | None) -> APIErrorResponse:
        limit = self.config.max_body_bytes
        what = f"{size} bytes" if size is not None else "over the limit"
        return APIErrorResponse(
            413,
            "invalid_request_error",
            f"The request body is {what}: at most {limit} bytes ({limit / 1024:g} KiB) "
            "are accepted.",
            headers={"Connection": "close"},  # the rest of the body is not read
        )

    def _too_many(self, exc: TooManyActiveJobs) -> APIErrorResponse:
        soonest = min(record.expected_completion for record in exc.active)
        retry_after = max(1, math.ceil(soonest - time.time()))
        limit = self.config.max_active_per_key
        return APIErrorResponse(
            429,
            "rate_limit_error",
            f"This API key already has {len(exc.active)} jobs queued or processing; the "
            f"limit is {limit}. Retry in about {retry_after} s, when one has finished.",
            headers={"Retry-After": str(retry_after)},
        )

    async def get_job(self, request: Request) -> Response:
        key_hash = self.keys.authenticate(request.headers)
        job_id = request.path_params["id"]
        record = self.store.get(job_id)
        if record is None or not secrets.compare_digest(record.key_hash, key_hash):
            # The same answer whether the job does not exist or belongs to another key.
            raise APIErrorResponse(
                404, "not_found_error", f"No job {short(job_id)} for this API key."
            )
        return JSONResponse(self._job(record, request))

    async def get_video(self, request: Request) -> Response:
        job_id = request.path_params["id"]
        query = request.query_params
        try:
            self.signer.verify(job_id, query.get("expires"), query.get("signature"), time.time())
        except InvalidSignature:
            missing = not query.get("signature")
            raise APIErrorResponse(
                403,
                "permission_error",
                (
                    "This video URL is not signed"
                    if missing
                    else "This video URL's signature is not valid"
                )
                + ": use the job's video_url exactly as given, with its "
                "expires and signature query parameters.",
            ) from None
        except ExpiredURL as exc:
            when = datetime.fromtimestamp(exc.expires, UTC).strftime("%Y-%m-%d %H:%M:%S")
            raise APIErrorResponse(
                410,
                "invalid_request_error",
                f"This video URL expired at {when} UTC (expires={exc.expires}): video URLs "
                f"are valid for {_duration_text(self.config.url_ttl)} after the job "
                "completes. Download and keep the bytes if you need them longer.",
            ) from None
        record = self.store.get(job_id)
        path = self.store.video_path(job_id)
        size = file_size(path) if record is not None and record.status == "completed" else None
        if size is None:
            raise APIErrorResponse(404, "not_found_error", f"No video for job {short(job_id)}.")
        try:
            span = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiable:
            raise APIErrorResponse(
                416,
                "invalid_request_error",
                f"The Range {short(request.headers.get('range', ''))} cannot be satisfied: "
                f"the video has {size} bytes. Ask for one range, e.g. bytes=0-1023.",
                headers={"Content-Range": f"bytes */{size}"},
            ) from None
        return VideoFileResponse(path, size, span, etag=f'"{job_id}-{size}"')

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document(self.base_url(request)))

    async def stats_route(self, request: Request) -> Response:
        key_hash = self.keys.authenticate(request.headers)
        return JSONResponse(self.stats.for_key_hash(key_hash))


def create_app(config: ServerConfig) -> Starlette:
    """The local API server as an ASGI application (run it with uvicorn, or with
    :class:`ThreadedServer`). Jobs start running when the app's lifespan starts."""
    store = JobStore(config.data_dir)
    signer = UrlSigner(load_or_create_secret(config.data_dir / "secret.key"))
    planner = TimingPlanner(config.profile, config.time_scale, _rng(config.seed, "timing"))
    runner = JobRunner(store, config.renderer or SandboxRenderer(), planner)
    stats = ServerStats(store.counts_by_status)
    keys = KeyRing(config.api_keys)
    api = _API(config, store, runner, signer, stats, keys)

    def account(scope: Scope, kind: RouteKind) -> str | None:
        if kind == "video_gets":
            job_id = video_job_id(scope["path"])
            return store.key_hash_of(job_id) if job_id else None
        return keys.account_of(Request(scope).headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await runner.start()
            yield
        finally:
            await runner.stop()
            store.close()

    routes = [
        Route("/v1/video/generations", api.submit, methods=["POST"]),
        Route("/v1/video/generations/{id}", api.get_job, methods=["GET"]),
        Route("/v1/videos/{id}.mp4", api.get_video, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route("/_sandbox/stats", api.stats_route, methods=["GET"]),
    ]
    fault_rng = _rng(config.seed, "faults")

    def wrap(inner: ASGIApp) -> ASGIApp:
        faulty = FaultMiddleware(
            KeepConnection(inner),
            faults=config.faults,
            rng=fault_rng,
            stats=stats,
            account=account,
        )
        return RequestId(faulty)

    app = LayeredStarlette(
        wrap=wrap, routes=routes, exception_handlers=exception_handlers, lifespan=lifespan
    )
    app.state.config = config
    app.state.listen_url = None
    app.state.stats = stats
    app.state.store = store
    app.state.runner = runner
    return app


def set_listen_url(app: Starlette, url: str | None) -> None:
    """Tell the app the address it listens on (``http://127.0.0.1:54321``), the base of
    its URLs when ``ServerConfig.public_url`` is not set. ``None``: a wildcard address
    (``0.0.0.0``), for which each connection's local address is used instead."""
    app.state.listen_url = url.rstrip("/") if url else None
