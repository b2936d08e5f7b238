"""Text from outside this process — a server's replies, rows read back from disk — made
safe to show.

* :func:`redact` takes the API key (every key this process has used, and the credentials
  of the request a reply answers) out of a text, so that a server echoing the
  ``Authorization`` header cannot put the key in an exception, a log line, a widget or
  a terminal. The protocol layer applies it where replies become jobs and errors
  (:func:`eco_widget._protocol.error_from_response`,
  :func:`eco_widget._protocol.job_from_response`); :class:`eco_widget.EcoVideoError`
  applies it again to every message, as a last guard.
* :func:`without_userinfo` drops ``user:password@`` from a URL: a key written into a base
  URL is never kept, sent as Basic auth or shown.
* :func:`escape_controls` writes control characters (ESC, CR, BEL, the other C0 and C1
  controls, DEL, and the bidirectional overrides) as escapes such as ``\\x1b``: every
  text the command line prints that did not come from eco_widget itself goes through
  it, so that a server cannot move the cursor, clear the screen or forge a line.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "escape_controls",
    "redact",
    "remember_secret",
    "request_secrets",
    "without_userinfo",
]

#: What a secret is replaced with.
MASK = "***"
#: Remembered secrets shorter than this are not redacted inside every text: a one-letter
#: "key" would mangle every message ("disk" → "dis***"). The credentials of the request
#: a reply answers are always taken out of that reply.
MIN_SECRET = 6

_lock = threading.Lock()
_known: set[str] = set()


def remember_secret(secret: str | None) -> None:
    """Take ``secret`` (an API key, a URL's password) out of every text :func:`redact`
    cleans from now on, in this process, and out of the log lines of the HTTP libraries
    (whose lines quote a server's reason phrase and headers). Blank values are
    ignored."""
    if isinstance(secret, str) and secret.strip():
        with _lock:
            _known.add(secret.strip())
        _guard_http_logs()


class _RedactingFilter(logging.Filter):
    """Rewrites a log record's message with every remembered secret taken out."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _RedactingFilter()


#: The loggers whose records may quote a server (a logger's filters only see the records
#: logged on that very logger, so each of httpcore's is named).
_LOGGERS = (
    "eco_widget",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def _guard_http_logs() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def request_secrets(request: Any) -> tuple[str, ...]:
    """What ``request`` (an :class:`httpx.Request`, or ``None``) carried that a reply
    must not show: the whole ``Authorization`` header value, the credentials after its
    scheme (``Bearer KEY``: ``KEY``), and the password of its URL."""
    if request is None:
        return ()
    found: list[str] = []
    try:
        header = request.headers.get("authorization")
    except AttributeError:
        header = None
    if isinstance(header, str) and header.strip():
        found.append(header.strip())
        _, _, credentials = header.strip().partition(" ")
        if credentials.strip():
            found.append(credentials.strip())
    try:
        password = request.url.password
    except AttributeError:
        password = None
    if password:
        found.append(password)
    return tuple(found)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each secret — the ``secrets`` given and every one remembered with
    :func:`remember_secret` — replaced by ``***`` (also in its URL-encoded form)."""
    if not text:
        return text
    with _lock:
        candidates = {secret for secret in _known if len(secret) >= MIN_SECRET}
    candidates.update(secret.strip() for secret in secrets if isinstance(secret, str))
    forms = set()
    for secret in candidates:
        if secret:
            forms.add(secret)
            forms.add(quote(secret, safe=""))
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, MASK)
    return text


def without_userinfo(url: str) -> str:
    """``url`` without the ``user:password@`` part of its authority (the password is
    remembered as a secret first, so that a server echoing it is redacted too)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    _, _, password = userinfo.partition(":")
    remember_secret(password)
    return urlunsplit(parts._replace(netloc=host))


# C0 and C1 controls, DEL, and the characters that reorder or break lines of text.
_CONTROLS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(char: str) -> str:
    return f"\\u{ord(char):04x}"


def escape_controls(
    text: str, *, keep: str = "", replacement: str | None = None, json: bool = False
) -> str:
    """``text`` with every control character written as an escape (``"\\x1b[2J"`` for
    ESC ``[2J``; ``\\u202e`` for a bidirectional override), but those in ``keep`` (e.g.
    ``"\\n\\t"`` where lines may break). ``replacement`` writes each as that string
    instead (a table's ``"?"``); ``json`` as a JSON escape (``\\u001b``), for a line
    of JSON that must stay valid."""
    if not _CONTROLS.search(text):
        return text
    escape = _json_escape if json else _escape

    def swap(match: re.Match[str]) -> str:
        char = match.group()
        if char in keep:
            return char
        return replacement if replacement is not None else escape(char)

    return _CONTROLS.sub(swap, text)
