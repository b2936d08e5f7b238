"""The HTTP/1.1 protocol the server speaks: uvicorn's, with the contract's JSON error
body for a request it cannot parse (a negative, oversized or conflicting
``Content-Length``, a malformed request line or header), where uvicorn answers with a
plain-text 400. Such a request never reaches the application."""

from __future__ import annotations

import json
import secrets

from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["JSONErrorHTTPProtocol", "unparsable_request_body"]

_MESSAGE = (
    "The request is not valid HTTP/1.1: check its request line and headers "
    "(Content-Length, when sent, must be one whole number of bytes, and a request has "
    "either Content-Length or Transfer-Encoding: chunked)."
)


def unparsable_request_body() -> bytes:
    """The JSON error body of a 400 for a request that could not be parsed."""
    error = {"type": "invalid_request_error", "message": _MESSAGE}
    return json.dumps({"error": error}, separators=(",", ":")).encode("ascii")


class JSONErrorHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol (httptools when installed, else h11) whose answer to an
    unparsable request is the contract's JSON error, then the connection is closed."""

    def send_400_response(self, msg: str) -> None:
        body = unparsable_request_body()
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"x-request-id: req_" + secrets.token_hex(12).encode("ascii") + b"\r\n",
            b"connection: close\r\n",
            b"\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
