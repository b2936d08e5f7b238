"""Google Colab: the API key from the notebook's Secrets (the 🔑 panel).

Colab's kernel imports ``google.colab`` when it starts, so a module already imported is
the sign of a Colab runtime. Having the ``google-colab`` package installed is not: its
``userdata.get`` waits, with no time limit, for a reply that only Colab's front end
sends, so it is never called anywhere else. Secret values are returned, never printed,
logged or kept.
"""

from __future__ import annotations

import sys

__all__ = ["colab_secret", "in_colab"]

#: The exceptions of ``google.colab.userdata`` that mean "no value for you": the secret
#: does not exist, the user denied this notebook access, or (in some releases) the
#: front end did not answer in time.
_NO_VALUE_ERRORS = ("SecretNotFoundError", "NotebookAccessError", "TimeoutException")


def in_colab() -> bool:
    """True inside a Google Colab notebook's kernel."""
    return "google.colab" in sys.modules


def colab_secret(name: str) -> str | None:
    """The value of the Colab secret ``name``, or None: outside Colab, when the secret
    does not exist or is empty, or when the notebook was not given access to it.

    In Colab, the first read of a secret may ask the user to grant this notebook access.
    """
    if not in_colab():
        return None
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except ImportError:
        return None
    expected = tuple(
        getattr(userdata, error) for error in _NO_VALUE_ERRORS if hasattr(userdata, error)
    )
    try:
        value = userdata.get(name)
    except expected:
        return None
    if not isinstance(value, str):
        return None
    return value.strip() or None
