"""The Starlette application: the contract's routes over the job store and runner.

Routes::

    POST /v1/video/generations          submit (bearer auth)
    GET  /v1/video/generations/{id}     poll (bearer auth)
    GET  /v1/videos/{id}.mp4            download (pre-signed URL, Range support)
    GET  /openapi.json                  the OpenAPI 3.1 document
    GET  /_sandbox/stats                counters for the calling key (bearer auth)

Every error is the contract's JSON body and every response carries ``x-request-id``.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import secrets
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
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

__all__ = ["create_app"]


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

    def _job(self, record: JobRecord, request: Request) -> dict[str, Any]:
        return job_object(
            record,
            base_url=str(request.base_url).rstrip("/"),
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
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise APIErrorResponse(
                    400, "invalid_request_error", "Invalid Content-Length header."
                )
            if int(declared) > limit:
                raise self._too_large(int(declared))
        chunks: list[bytes] = []
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise self._too_large(None)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, size: int | None) -> APIErrorResponse:
        limit = self.config.max_body_bytes
        what = f"{size} bytes" if size is not None else "over the limit"
        return APIErrorResponse(
            413,
            "invalid_request_error",
            f"The request body is {what}: at most {limit} bytes ({limit / 1024:g} KiB) "
            "are accepted.",
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
            when = datetime.fromtimestamp(exc.expires, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
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
        return JSONResponse(openapi_document(str(request.base_url).rstrip("/")))

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
    app.state.stats = stats
    app.state.store = store
    app.state.runner = runner
    return app
