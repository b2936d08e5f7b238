"""How ``ecovideo`` reports what went wrong: one line on stderr and an exit status."""

from __future__ import annotations

import sys

from .._config import API_KEY_ENV
from .._exceptions import (
    APIConnectionError,
    AuthenticationError,
    EcoVideoError,
    InvalidParameterError,
    JournalError,
    MissingAPIKeyError,
)
from .._sandbox import SERVER_DEPENDENCIES
from .._untrusted import escape_controls
from ._parser import PROG

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "explain",
    "missing_extra",
    "print_error",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

SANDBOX_EXTRA = "pip install 'eco_widget[sandbox]'"
KEY_HINT = f"set {API_KEY_ENV} or pass --api-key KEY; to try {PROG} without a key, add --sandbox"


class CLIError(Exception):
    """An error already worded for the terminal, with its exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.message = message
        self.code = code


def missing_extra(exc: ImportError) -> CLIError:
    """The error for a missing optional dependency, with the install command."""
    if "pip install" in str(exc):
        return CLIError(str(exc))
    if (exc.name or "").split(".")[0] in SERVER_DEPENDENCIES:
        return CLIError(f"the local server needs its extra ({exc}): {SANDBOX_EXTRA}")
    return CLIError(f"could not load the local server: {exc}")


def _key_advice(exc: AuthenticationError) -> str:
    """The error with what to do on the command line (no key: just the advice)."""
    text = str(exc)
    if isinstance(exc, MissingAPIKeyError):
        return f"{text.split('. ')[0]}: {KEY_HINT}"
    return f"{text} ({KEY_HINT})"


def explain(exc: BaseException) -> CLIError:
    """Word an exception as one line with its exit status."""
    if isinstance(exc, CLIError):
        return exc
    if isinstance(exc, InvalidParameterError):
        return CLIError(exc.message, EXIT_USAGE)
    if isinstance(exc, JournalError):
        return CLIError(str(exc), EXIT_USAGE)
    if isinstance(exc, AuthenticationError):
        return CLIError(_key_advice(exc))
    if isinstance(exc, APIConnectionError) and exc.may_have_reached_server:
        return CLIError(f"{exc} (the request may have reached the server)")
    if isinstance(exc, EcoVideoError):
        return CLIError(str(exc))
    if isinstance(exc, ImportError):
        return missing_extra(exc)
    if isinstance(exc, ValueError):
        return CLIError(str(exc), EXIT_USAGE)
    if isinstance(exc, OSError):
        return CLIError(str(exc))
    return CLIError(f"unexpected {type(exc).__name__}: {exc}")


def print_error(message: str) -> None:
    """Print ``ecovideo: error: MESSAGE`` on stderr, on one line: a message may quote a
    server, so its control characters are escaped (:func:`escape_controls`: ESC, CR …
    shown as ``\\x1b``, ``\\r``) and its line breaks become spaces."""
    line = " ".join(escape_controls(message, keep="\n\t").split())
    print(f"{PROG}: error: {line}", file=sys.stderr, flush=True)
