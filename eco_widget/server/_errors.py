"""The contract's error body, ``{"error": {"type", "message", "param"?}}``, for every
failure: the API's own, the router's 404/405 and unexpected exceptions."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["APIErrorResponse", "encodable", "error_response", "exception_handlers"]


def error_response(
    status: int,
    type: str,
    message: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error response in the contract's shape. A lone surrogate from the request
    (an unknown field named ``"\\ud800"``) is written as its escape: it cannot be
    encoded, and an error must never turn into a 500."""
    error: dict[str, str] = {"type": type, "message": encodable(message)}
    if param is not None:
        error["param"] = encodable(param)
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def encodable(text: str) -> str:
    """``text`` with any lone surrogate replaced by its ``\\udXXX`` escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class APIErrorResponse(Exception):
    """Raised by a handler to answer with an error body."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.message = message
        self.param = param
        self.headers = dict(headers or {})
        super().__init__(message)

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.type, self.message, param=self.param, headers=self.headers
        )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIErrorResponse)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's errors: unknown path (404), method not allowed (405)."""
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        return error_response(
            404,
            "not_found_error",
            f"No such endpoint: {where}. The API has POST /v1/video/generations and "
            "GET /v1/video/generations/{id}; see /openapi.json.",
        )
    if exc.status_code == 405:
        # Starlette lists a route's methods in set order: sort them for a stable answer.
        methods = (exc.headers or {}).get("Allow", "").split(",")
        allowed = ", ".join(sorted(method.strip() for method in methods if method.strip()))
        return error_response(
            405,
            "invalid_request_error",
            f"Method {request.method} is not allowed on {request.url.path}; allowed: {allowed}.",
            headers={"Allow": allowed},
        )
    kind = "server_error" if exc.status_code >= 500 else "invalid_request_error"
    return error_response(exc.status_code, kind, str(exc.detail), headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Uvicorn logs the traceback (Starlette re-raises after this response is sent).
    return error_response(
        500,
        "server_error",
        "The server hit an unexpected error. Retry the request; if it keeps failing, "
        "look at the server's log.",
    )


exception_handlers = {
    APIErrorResponse: _api_error,
    HTTPException: _http_error,
    Exception: _unexpected_error,
}
