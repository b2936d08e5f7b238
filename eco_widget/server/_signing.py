"""Pre-signed video URLs, like the S3 links of the real service.

A completed job's ``video_url`` is ``<base>/v1/videos/<id>.mp4?expires=<epoch>&
signature=<hex HMAC-SHA256 of "<id>:<expires>">`` keyed with a secret kept in the data
directory (``secret.key``, mode 0600, created once), so URLs stay valid across restarts
and between servers sharing the directory, and need no API key to be fetched.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlencode

__all__ = ["ExpiredURL", "InvalidSignature", "UrlSigner", "load_or_create_secret"]

_SECRET_BYTES = 32
#: An expiry as the signer writes it: a Unix time in seconds, no leading zero, no sign;
#: longer than 40 digits it is not one of ours (and is not worth converting).
_EXPIRES = re.compile(r"0|[1-9][0-9]{0,39}")


class InvalidSignature(Exception):
    """The URL is not signed, or not by this data directory's secret."""


class ExpiredURL(Exception):
    """The URL was signed but its lifetime is over."""

    def __init__(self, expires: int) -> None:
        self.expires = expires
        super().__init__(f"expired at {expires}")


def load_or_create_secret(path: Path) -> bytes:
    """Read the signing secret at ``path``, creating it (mode 0600) if absent.

    Creation is atomic: the secret is written to a private temporary file, then linked
    into place, so two processes starting together agree on one secret.
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(_SECRET_BYTES).hex().encode("ascii"))
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its secret
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    secret = bytes.fromhex(path.read_text("ascii").strip())
    if len(secret) < 16:
        raise ValueError(f"{path} does not hold a usable secret; delete it to get a new one.")
    return secret


class UrlSigner:
    """Signs and checks ``(job id, expiry)`` pairs."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def signature(self, job_id: str, expires: int) -> str:
        message = f"{job_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def query(self, job_id: str, expires: int) -> str:
        """The query string of a signed URL."""
        return urlencode({"expires": expires, "signature": self.signature(job_id, expires)})

    def verify(self, job_id: str, expires: str | None, signature: str | None, now: float) -> int:
        """Return the expiry of a valid URL.

        Raises :class:`InvalidSignature` when the signature is missing or wrong (checked
        in constant time) and :class:`ExpiredURL` when it is right but ``now`` is past
        the expiry.
        """
        if not expires or not signature or not _EXPIRES.fullmatch(expires):
            # Also refuses an expiry of thousands of digits before converting it.
            raise InvalidSignature()
        expected = self.signature(job_id, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8")):
            raise InvalidSignature()
        if now >= int(expires):
            raise ExpiredURL(int(expires))
        return int(expires)
