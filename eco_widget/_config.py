"""Where requests go and with which key: arguments, then the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ._colab import colab_secret, in_colab
from ._exceptions import AuthenticationError, InvalidParameterError, MissingAPIKeyError
from ._polling import PollPolicy
from ._untrusted import without_userinfo

__all__ = ["DEFAULT_BASE_URL", "SANDBOX", "Settings", "resolve_settings"]

DEFAULT_BASE_URL = "https://api.ecohash.com"
SANDBOX = "sandbox"
API_KEY_ENV = "ECOHASH_API_KEY"
BASE_URL_ENV = "ECOHASH_BASE_URL"

_NO_KEY = (
    "No API key for {base_url}. Pass Client(api_key='eco_…') or set the "
    f"{API_KEY_ENV} environment variable.{{colab}} To try eco_widget without a key, use "
    f"the local sandbox: Client(base_url='sandbox'), or set {BASE_URL_ENV}=sandbox."
)
_NO_KEY_COLAB = (
    f" In Colab, add a secret named {API_KEY_ENV} in the Secrets panel (the key icon in "
    "the left bar) and give this notebook access to it."
)

_USERINFO = (
    f" The user name and password written into the base URL were dropped: a key goes in "
    f"api_key or {API_KEY_ENV}, never in the URL."
)


@dataclass(frozen=True)
class Settings:
    """A resolved configuration. The key is kept out of ``repr``."""

    base_url: str
    api_key: str | None = field(repr=False)
    poll_policy: PollPolicy | None = None
    is_sandbox: bool = False
    #: What the journal files jobs under: the base URL, or for the sandbox (whose port
    #: changes with each process) ``sandbox:`` and its data folder.
    origin: str = ""

    def __post_init__(self) -> None:
        if not self.origin:
            object.__setattr__(self, "origin", self.base_url)


def resolve_settings(api_key: str | None = None, base_url: str | None = None) -> Settings:
    """Resolve the key and base URL: arguments first, then ``ECOHASH_API_KEY`` and
    ``ECOHASH_BASE_URL`` (in Google Colab, a notebook secret named ``ECOHASH_API_KEY``
    when the variable is not set), then the public service. ``"sandbox"`` starts (once
    per process) the local server and uses its key; ``"local"`` the same with the Wan2.1
    backend (the ``local`` extra, a GPU).

    A ``user:password@`` written into the base URL is dropped (and the password treated
    as a secret): it is never sent, nor shown in a repr, an error or the widget; the key
    goes in ``api_key`` or ``ECOHASH_API_KEY``.

    Raises :class:`MissingAPIKeyError` (an :class:`AuthenticationError`) when a real
    server has no key, before any request is made.
    """
    base = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).strip()
    if base.lower() == SANDBOX:
        from ._sandbox import get_sandbox

        sandbox = get_sandbox()
        return Settings(
            sandbox.url,
            sandbox.api_key,
            sandbox.poll_policy,
            is_sandbox=True,
            origin=f"sandbox:{sandbox.data_dir}",
        )
    if base.lower() == "local":
        from ._local_engine import get_local

        local = get_local()
        return Settings(
            local.url, local.api_key, local.poll_policy, origin=f"local:{local.data_dir}"
        )
    given = base
    base = without_userinfo(base)
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameterError(
            "base_url",
            base,
            "an http(s) URL such as 'https://api.ecohash.com', 'sandbox' or 'local'",
        )
    userinfo = _USERINFO if base != given else ""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    key = key.strip() if isinstance(key, str) else None
    if not key and api_key is None:
        key = colab_secret(API_KEY_ENV)
    if not key:
        colab = _NO_KEY_COLAB if in_colab() else ""
        raise MissingAPIKeyError(_NO_KEY.format(base_url=base.rstrip("/"), colab=colab) + userinfo)
    if any(ord(char) < 0x21 or ord(char) > 0x7E for char in key):
        raise AuthenticationError(
            "The API key contains spaces or characters that cannot be sent in a header; "
            "copy it again from your account page."
        )
    return Settings(base.rstrip("/"), key)
