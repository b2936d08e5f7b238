"""Google Colab: the API key from the notebook's Secrets, and widgets in Colab.

``google.colab`` is replaced by a stand-in package written to a temporary folder on
``sys.path``, with the real module's API: ``userdata.get(key)`` returns the secret, raises
``userdata.SecretNotFoundError`` when there is none and ``userdata.NotebookAccessError``
when the user denied the notebook access; ``output.enable_custom_widget_manager()`` and
``output._widgets._installed_url`` as anywidget uses them. Colab's kernel imports
``google.colab`` when it starts; the ``colab`` fixture does the same.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from eco_widget import AsyncClient, Client, MissingAPIKeyError, VideoWidget
from eco_widget._colab import colab_secret, in_colab
from eco_widget._config import resolve_settings
from tests.conftest import FAST_POLL, KEY
from tests.waiting import DEADLINE, within

SECRET = "eco_secret_from_colab_7f3a"
API = "https://api.example.invalid"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MANAGER_URL = (
    "https://ssl.gstatic.com/colaboratory-static/widgets/colab-cdn-widget-manager/"
    "bf763107cca07459/manager.min.js"
)

_STAND_IN = {
    "google/__init__.py": "",
    "google/colab/__init__.py": """
        from google.colab import output
    """,
    "google/colab/errors.py": """
        class Error(Exception):
            \"\"\"Base class for Colab errors.\"\"\"
    """,
    "google/colab/userdata.py": """
        from google.colab import errors

        #: What the Secrets panel holds, which of them the user denied, and every read.
        SECRETS = {}
        DENIED = set()
        CALLS = []


        class NotebookAccessError(Exception):
            def __init__(self, key):
                super().__init__(f"Notebook does not have access to secret {key}")


        class SecretNotFoundError(errors.Error):
            def __init__(self, key):
                super().__init__(f"Secret {key} does not exist.")


        def get(key):
            CALLS.append(key)
            if key not in SECRETS:
                raise SecretNotFoundError(key)
            if key in DENIED:
                raise NotebookAccessError(key)
            return SECRETS[key]
    """,
    "google/colab/output/__init__.py": """
        from google.colab.output import _widgets
        from google.colab.output._widgets import enable_custom_widget_manager
    """,
    "google/colab/output/_widgets.py": f"""
        _installed_url = None
        CALLS = []


        def enable_custom_widget_manager(version="5.0.0a"):
            global _installed_url
            CALLS.append(version)
            _installed_url = {MANAGER_URL!r}
    """,
}


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The stand-in ``google.colab`` on ``sys.path``, not imported yet; every ``google``
    module imported meanwhile is forgotten afterwards, and earlier ones come back."""
    root = tmp_path / "site"
    for name, text in _STAND_IN.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    before = {name: module for name, module in sys.modules.items() if _is_google(name)}
    for name in before:
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    _reset_anywidget_colab_cache()
    yield root
    for name in [name for name in sys.modules if _is_google(name)]:
        del sys.modules[name]
    sys.modules.update(before)
    _reset_anywidget_colab_cache()


@pytest.fixture
def colab(stand_in: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A Colab runtime: ``google.colab`` imported, no ``ECOHASH_API_KEY`` or base URL in
    the environment. Returns the stand-in ``userdata`` module (fill ``SECRETS``)."""
    monkeypatch.delenv("ECOHASH_API_KEY", raising=False)
    monkeypatch.delenv("ECOHASH_BASE_URL", raising=False)
    importlib.import_module("google.colab")
    return importlib.import_module("google.colab.userdata")


def _is_google(name: str) -> bool:
    return name == "google" or name.startswith("google.")


def _reset_anywidget_colab_cache() -> None:
    """anywidget turns Colab's widget manager on once per process; each test here is a
    new Colab runtime."""
    from anywidget import _util

    _util.enable_custom_widget_manager_once.cache_clear()


# -- the key ---------------------------------------------------------------------------------
def test_without_the_variable_the_key_comes_from_the_colab_secret(colab: ModuleType):
    colab.SECRETS["ECOHASH_API_KEY"] = SECRET
    settings = resolve_settings(base_url=API)
    assert settings.api_key == SECRET
    assert colab.CALLS == ["ECOHASH_API_KEY"]
    assert SECRET not in repr(settings)


def test_outer_whitespace_of_the_secret_is_dropped(colab: ModuleType):
    colab.SECRETS["ECOHASH_API_KEY"] = f"  {SECRET}\n"
    assert resolve_settings(base_url=API).api_key == SECRET


def test_the_environment_variable_wins_over_the_secret(
    colab: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    colab.SECRETS["ECOHASH_API_KEY"] = SECRET
    monkeypatch.setenv("ECOHASH_API_KEY", "eco_from_the_environment")
    assert resolve_settings(base_url=API).api_key == "eco_from_the_environment"
    assert colab.CALLS == []


def test_an_explicit_key_wins_and_the_secrets_are_not_read(colab: ModuleType):
    colab.SECRETS["ECOHASH_API_KEY"] = SECRET
    assert resolve_settings("eco_explicit", API).api_key == "eco_explicit"
    with pytest.raises(MissingAPIKeyError):
        resolve_settings("", API)
    assert colab.CALLS == []


def test_the_sandbox_needs_no_secret(colab: ModuleType):
    colab.SECRETS["ECOHASH_API_KEY"] = SECRET
    settings = resolve_settings(base_url="sandbox")
    assert settings.is_sandbox and settings.api_key != SECRET
    assert colab.CALLS == []


@pytest.mark.parametrize("secret", ["missing", "denied", "empty"])
def test_no_usable_secret_is_the_usual_error_with_colab_advice(colab: ModuleType, secret: str):
    if secret != "missing":
        colab.SECRETS["ECOHASH_API_KEY"] = "   " if secret == "empty" else SECRET
    if secret == "denied":
        colab.DENIED.add("ECOHASH_API_KEY")
    with pytest.raises(MissingAPIKeyError) as caught:
        Client(base_url=API)
    message = str(caught.value)
    assert message.startswith(f"No API key for {API}. ")
    assert "ECOHASH_API_KEY environment variable" in message
    assert "In Colab, add a secret named ECOHASH_API_KEY in the Secrets panel" in message
    assert "base_url='sandbox'" in message
    assert SECRET not in message
    assert colab.CALLS == ["ECOHASH_API_KEY"]


def test_outside_colab_the_error_does_not_mention_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ECOHASH_API_KEY", raising=False)
    assert not in_colab()
    with pytest.raises(MissingAPIKeyError) as caught:
        resolve_settings(base_url=API)
    assert "Colab" not in str(caught.value)


def test_an_installed_but_not_running_colab_is_never_asked(stand_in: Path):
    """Outside Colab the real ``userdata.get`` would wait forever for Colab's front end:
    being importable is not enough, the runtime must have imported it."""
    assert importlib.util.find_spec("google.colab") is not None
    assert not in_colab()
    assert colab_secret("ECOHASH_API_KEY") is None
    assert "google.colab" not in sys.modules
    assert "google.colab.userdata" not in sys.modules


def test_without_google_colab_there_is_no_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert colab_secret("ECOHASH_API_KEY") is None


def test_the_key_from_secrets_reaches_the_server_and_nothing_prints_it(
    colab: ModuleType,
    make_server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
):
    server = make_server()
    colab.SECRETS["ECOHASH_API_KEY"] = KEY
    caplog.set_level(logging.DEBUG, logger="eco_widget")
    with Client(base_url=server.url) as client:
        job = client.submit("a lighthouse in the fog", num_frames=1, fps=1)
        job = client.get(job.id)
        shown = [repr(client), repr(job), str(job), client.account]
    assert job.params is not None and job.params.prompt == "a lighthouse in the fog"
    captured = capsys.readouterr()
    assert caplog.records, "the DEBUG log of the requests is empty"
    for text in (*shown, captured.out, captured.err, caplog.text):
        assert KEY not in text


def test_a_wrong_secret_is_refused_without_showing_it(colab: ModuleType, make_server):
    from eco_widget import AuthenticationError

    server = make_server()
    colab.SECRETS["ECOHASH_API_KEY"] = SECRET
    with Client(base_url=server.url) as client, pytest.raises(AuthenticationError) as caught:
        client.submit("a lighthouse", num_frames=1, fps=1)
    assert caught.value.status_code == 401
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


# -- the widget in Colab ---------------------------------------------------------------------
def test_anywidget_turns_on_colabs_custom_widget_manager(colab: ModuleType):
    from google.colab.output import _widgets

    w = VideoWidget(prompt="a koi pond in the rain")
    assert _widgets.CALLS == ["5.0.0a"]
    data, metadata = w._repr_mimebundle_()
    assert data["text/plain"] == repr(w)
    assert metadata == {WIDGET_MIME: {"colab": {"custom_widget_manager": {"url": MANAGER_URL}}}}


@pytest.mark.anyio
async def test_a_widget_in_colab_makes_a_video_with_the_secret(
    colab: ModuleType, make_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    server = make_server()
    colab.SECRETS["ECOHASH_API_KEY"] = KEY
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))
    client = AsyncClient(base_url=server.url, poll_policy=FAST_POLL)
    w = VideoWidget(prompt="a paper boat on a puddle", num_frames=5, fps=5, client=client)
    w.generate()
    video = await within(w, DEADLINE, "the widget's video")
    assert video.data[4:8] == b"ftyp"
    assert video.path is not None and video.path.is_relative_to(tmp_path / "home")
    assert KEY not in repr(w) and KEY not in repr(w.get_state())
    await client.aclose()
