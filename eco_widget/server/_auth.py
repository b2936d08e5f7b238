"""Bearer-key authentication. Keys are compared by their SHA-256 hash, in constant
time, and never appear in a message, a log line or the store."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.datastructures import Headers

from ._errors import APIErrorResponse
from ._records import hash_key

__all__ = ["KeyRing"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ecohash"'}


class KeyRing:
    """The accepted API keys, held only as hashes."""

    def __init__(self, api_keys: Iterable[str]) -> None:
        self._hashes = tuple(sorted({hash_key(key) for key in api_keys}))

    def known(self, key_hash: str) -> bool:
        found = False
        for candidate in self._hashes:  # no early exit: the time does not depend on which
            found |= hmac.compare_digest(candidate, key_hash)
        return found

    def account_of(self, headers: Headers) -> str | None:
        """The key hash of a request's valid bearer key, or ``None``."""
        token = _bearer_token(headers.get("authorization"))
        if token is None:
            return None
        key_hash = hash_key(token)
        return key_hash if self.known(key_hash) else None

    def authenticate(self, headers: Headers) -> str:
        """The key hash of the request's key; raises a 401 error when it is missing,
        malformed or unknown."""
        header = headers.get("authorization")
        if header is None or not header.strip():
            raise APIErrorResponse(
                401,
                "authentication_error",
                "Missing API key: send it in the Authorization header, as "
                "`Authorization: Bearer <key>`.",
                headers=_CHALLENGE,
            )
        token = _bearer_token(header)
        if token is None:
            raise APIErrorResponse(
                401,
                "authentication_error",
                "Malformed Authorization header: it must be `Authorization: Bearer <key>`.",
                headers=_CHALLENGE,
            )
        key_hash = hash_key(token)
        if not self.known(key_hash):
            raise APIErrorResponse(
                401, "authentication_error", "Invalid API key.", headers=_CHALLENGE
            )
        return key_hash


def _bearer_token(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
