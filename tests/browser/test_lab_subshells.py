"""VideoWidget when the front end sends comm messages over kernel subshells.

JupyterLab 4.4+ (and Notebook 7 on the same packages) send comm messages to a kernel
subshell when the kernel supports them, as ipykernel 7 does: the setting
``@jupyterlab/apputils-extension:kernels-settings`` → ``commsOverSubshells``, default
``"perCommTarget"`` (one subshell per comm target). A subshell is another thread of the
kernel with its own asyncio loop, so a click reaches the widget on a thread that is not
the one its runs live on. These tests drive the real front ends with that setting left
at its default (and once turned off), prove where the messages arrive (a probe
wrapped around the widget comm's callback records ``threading.current_thread().name``:
ipykernel names a subshell's thread ``subshell-<id>``), and click Generate more than once.

Every test ends by balancing the books: the jobs the sandbox server created during the
test are as many as the runs the page shows, and they, the job ids the page showed and
the job ids the journal gained are the same ids. Against the embedded sandbox (profile
``fast``), ``num_frames=9``; each server has a data folder (journal) of its own.
"""

from __future__ import annotations

import ast
import contextlib
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.browser.jupyter import (
    JOB_ID,
    JupyterServer,
    Kind,
    NotebookSession,
    VideoWidgetView,
)

#: The JupyterLab setting, its file in the user settings folder, and its values.
SETTING = "commsOverSubshells"
SETTING_FILE = "@jupyterlab/apputils-extension/kernels-settings.jupyterlab-settings"
DEFAULT = "perCommTarget"
DISABLED = "disabled"
SUBSHELL_THREAD = re.compile(r"subshell-\S+")
MAIN_THREAD = re.compile(r"MainThread")

#: Records the thread the kernel delivers each custom message on, wrapping the comm's
#: own callback (the widget hands each message over to its home loop from there).
RECORD_THREADS = (
    "import threading\n"
    "threads = []\n"
    "def _probe(msg, deliver={name}.comm._msg_callback):\n"
    "    data = msg['content']['data']\n"
    "    if data.get('method') == 'custom':\n"
    "        threads.append([threading.current_thread().name, data['content'].get('type')])\n"
    "    deliver(msg)\n"
    "{name}.comm.on_msg(_probe)\n"
)
WIDGET_CELL = (
    "from eco_widget import VideoWidget\n"
    "w = VideoWidget(num_frames=9)\n" + RECORD_THREADS.format(name="w") + "w"
)
GALLERY_PROMPTS = ["a red kite over a beach", "a blue boat in a bay", "a green hill at dusk"]
GALLERY_CELL = (
    "from eco_widget import VideoGallery\n"
    f"g = VideoGallery({GALLERY_PROMPTS!r}, num_frames=9)\n" + RECORD_THREADS.format(name="g") + "g"
)
SUBMIT = (
    "from eco_widget import Client\n"
    "Client().submit('a lighthouse at night', num_frames=9, seed=5).id"
)
PROMPTS = (
    "a red balloon over a mountain at dawn",
    "a paper boat drifting down a rainy street",
    "a fox crossing a snowy field at night",
)
VIDEO_WIDTH = 832
#: A run's phase until it ends (static/PROTOCOL.md).
ACTIVE_PHASES = ("waiting", "submitting", "resuming", "queued", "processing", "downloading")
RUN_TIMEOUT = 90_000

_SETTING_JS = """
(expected) => {
  const app = window.jupyterapp;
  const kernel = app.shell.currentWidget.sessionContext.session.kernel;
  return app.serviceManager.kernels.commsOverSubshells === expected
    && kernel.commsOverSubshells === expected && kernel.supportsSubshells === true;
}
"""
_SETTING_STATE_JS = """
() => {
  const app = window.jupyterapp;
  const kernel = app.shell.currentWidget.sessionContext.session.kernel;
  return {
    manager: app.serviceManager.kernels.commsOverSubshells,
    kernel: kernel.commsOverSubshells,
    supportsSubshells: kernel.supportsSubshells,
  };
}
"""
#: The run card in ``.eco-current`` once it is a run not in ``previous`` and it has
#: ended: completed with a playable video, or stopped, failed, in error. Else null.
_NEWEST_ENDED_JS = """
([previous, active]) => {
  const card = document.querySelector('.eco-widget .eco-current .eco-run');
  if (!card || previous.includes(card.dataset.key)) return null;
  const phase = card.dataset.phase;
  if (active.includes(phase)) return null;
  const video = card.querySelector('video');
  const playable = !!video && video.readyState >= 2 && video.videoWidth > 0;
  if (phase === 'completed' && !playable) return null;
  return {
    key: card.dataset.key, phase, text: card.innerText,
    videoWidth: video ? video.videoWidth : 0, paused: video ? video.paused : null,
  };
}
"""
#: Every run card of the widget, once there are ``n`` and all have ended (a completed
#: one counts once its video plays, or once it offers its Play button). Else null.
_ALL_ENDED_JS = """
([n, active]) => {
  const cards = [...document.querySelectorAll('.eco-widget .eco-run')];
  if (cards.length !== n) return null;
  const states = cards.map((card) => {
    const video = card.querySelector('video');
    return {
      key: card.dataset.key,
      phase: card.dataset.phase,
      current: !!card.closest('.eco-current'),
      playable: !!video && video.readyState >= 2 && video.videoWidth > 0,
      playButton: !!card.querySelector('.eco-play'),
      text: card.innerText,
    };
  });
  const ended = (s) => !active.includes(s.phase)
    && (s.phase !== 'completed' || s.playable || (!s.current && s.playButton));
  return states.every(ended) ? states : null;
}
"""
_CARDS_JS = """
() => [...document.querySelectorAll('.eco-widget .eco-run')].map((card) => ({
  key: card.dataset.key, phase: card.dataset.phase, text: card.innerText,
}))
"""
_HISTORY_PLAYING_JS = """
(n) => {
  const cards = [...document.querySelectorAll('.eco-widget .eco-strip .eco-run')];
  return cards.length === n && cards.every((card) => {
    const video = card.querySelector('video');
    return !!video && video.readyState >= 2 && video.videoWidth > 0;
  });
}
"""
_GRID_PLAYING_JS = """
(n) => {
  const videos = [...document.querySelectorAll('.eco-grid-list .eco-run video')];
  return videos.length === n && videos.every((v) => v.readyState >= 2 && v.videoWidth > 0);
}
"""
_RESTART_JS = """
async () => {
  const context = window.jupyterapp.shell.currentWidget.sessionContext;
  await context.session.kernel.restart();
}
"""


@dataclass(frozen=True)
class Variant:
    """A front end and its subshell setting."""

    kind: Kind
    setting: str

    @property
    def subshells(self) -> bool:
        return self.setting != DISABLED

    def settings(self) -> dict[str, dict[str, Any]] | None:
        """The user settings of the server: none (the default) or the setting's value."""
        return None if self.setting == DEFAULT else {SETTING_FILE: {SETTING: self.setting}}


LAB_DEFAULT = Variant("lab", DEFAULT)
LAB_OFF = Variant("lab", DISABLED)
NOTEBOOK_DEFAULT = Variant("notebook", DEFAULT)


@pytest.fixture(scope="module")
def start_server(
    jupyter_server, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., JupyterServer]:
    """``start_server(variant, home="main")``: the server of ``variant`` whose kernels
    keep their journal in data folder ``home``, of this module only."""
    homes: dict[str, Path] = {}

    def start(variant: Variant, home: str = "main") -> JupyterServer:
        if home not in homes:
            homes[home] = tmp_path_factory.mktemp(f"subshells-{home}")
        env = {"ECOHASH_HOME": str(homes[home] / f"{variant.kind}-{variant.setting}")}
        return jupyter_server(variant.kind, env, variant.settings())

    return start


# -- the books: what the sandbox server and the journal hold ---------------------------
def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        return db.execute(sql).fetchall()


def _sandbox_store(server: JupyterServer) -> Path:
    return Path(server.env["ECOHASH_SANDBOX_DIR"]) / "jobs.sqlite3"


def _journal(server: JupyterServer) -> Path:
    return Path(server.env["ECOHASH_HOME"]) / "journal.sqlite3"


@dataclass(frozen=True)
class Books:
    """The job ids the sandbox server's store and the kernels' journal hold."""

    server: JupyterServer
    created: frozenset[str]
    journal: frozenset[str]

    @classmethod
    def read(cls, server: JupyterServer) -> Books:
        return cls(
            server=server,
            created=frozenset(
                row[0] for row in _rows(_sandbox_store(server), "SELECT id FROM jobs")
            ),
            journal=frozenset(row[0] for row in _rows(_journal(server), "SELECT job_id FROM jobs")),
        )

    def since(self, before: Books) -> Books:
        return Books(self.server, self.created - before.created, self.journal - before.journal)


def check_books(view: VideoWidgetView, before: Books, runs: int, shown: set[str]) -> None:
    """The sandbox made as many jobs during the test as the page shows runs (``runs``),
    and its new jobs, the journal's new entries and the ids the page ``shown`` agree."""
    new = Books.read(before.server).since(before)
    cards = view.root.locator(".eco-run").count()
    assert cards == runs, _cards(view)
    assert len(new.created) == cards, (sorted(new.created), _cards(view))
    assert all(JOB_ID.fullmatch(job_id) for job_id in shown), shown
    assert set(new.journal) == shown, (sorted(new.journal), sorted(shown))
    assert set(new.created) == shown, (sorted(new.created), sorted(shown))


def shown_job_ids(view: VideoWidgetView) -> set[str]:
    """Every job id the widget showed since :meth:`VideoWidgetView.record_texts`."""
    return {
        job_id
        for text in [*view.seen_texts(), view.root.inner_text()]
        for job_id in JOB_ID.findall(text)
    }


def front_end_job_ids(notebook: NotebookSession) -> set[str]:
    """The job ids of the runs in the page's widget models (a grid prints no ids)."""
    return {
        run["job_id"]
        for state in notebook.widget_states()
        for model in state["state"].values()
        for run in model["state"].get("runs") or []
        if run.get("job_id")
    }


# -- the page ---------------------------------------------------------------------------
def _cards(view: VideoWidgetView) -> str:
    """The run cards' keys, phases and texts, the jobs of the sandbox server and of the
    journal (all of this server's), and the server's log: for failures."""
    server = view.notebook.server
    lines = ["run cards:"]
    lines += [
        f"[{card['key']} {card['phase']}] {card['text']!r}"
        for card in view.page.evaluate(_CARDS_JS)
    ]
    lines.append("sandbox jobs (id, status, prompt):")
    sql = "SELECT id, status, json_extract(params, '$.prompt') FROM jobs ORDER BY created"
    lines += [str(row) for row in _rows(_sandbox_store(server), sql)]
    lines.append("journal (job_id, status, prompt):")
    sql = "SELECT job_id, status, prompt FROM jobs ORDER BY submitted_at"
    lines += [str(row) for row in _rows(_journal(server), sql)]
    return "\n".join([*lines, "server log:", server.log()])


def _wait_json(view: VideoWidgetView, script: str, arg: Any, what: str) -> Any:
    try:
        handle = view.page.wait_for_function(script, arg=arg, timeout=RUN_TIMEOUT, polling=100)
    except PlaywrightTimeoutError:
        pytest.fail(f"timed out waiting for {what}\n{_cards(view)}", pytrace=False)
    return handle.json_value()


def open_widget(notebook: NotebookSession, variant: Variant) -> VideoWidgetView:
    """Run the notebook, wait for the widget and check the subshell setting in force."""
    notebook.run_all()
    view = VideoWidgetView(notebook).wait_rendered()
    notebook.wait_kernel_idle()
    check_setting(notebook, variant)
    view.record_texts()
    return view


def check_setting(notebook: NotebookSession, variant: Variant) -> None:
    try:
        notebook.page.wait_for_function(_SETTING_JS, arg=variant.setting, timeout=10_000)
    except PlaywrightTimeoutError:
        state = notebook.page.evaluate(_SETTING_STATE_JS)
        pytest.fail(f"expected {SETTING}={variant.setting!r}; the page has {state}")


def generate(view: VideoWidgetView, prompt: str) -> None:
    view.prompt.fill(prompt)
    view.generate_button.click()


def newest_run_ends(view: VideoWidgetView, previous: list[str]) -> dict[str, Any]:
    """Wait until a run not in ``previous`` is the newest and has ended; return it."""
    return _wait_json(
        view, _NEWEST_ENDED_JS, [previous, list(ACTIVE_PHASES)], "the newest run to end"
    )


def assert_playing(view: VideoWidgetView, run: dict[str, Any]) -> None:
    assert run["phase"] == "completed", f"run {run['key']} ended {run['phase']}\n{_cards(view)}"
    assert run["videoWidth"] == VIDEO_WIDTH, run


def phases(view: VideoWidgetView) -> list[str]:
    """The phases of the widget's runs in the kernel (``w.runs``), newest first."""
    return view.kernel_value(f"[run['phase'] for run in {view.name}.runs]")


def play_history(view: VideoWidgetView, n: int) -> None:
    """Press Play on the history strip's cards that offer it; wait until all ``n`` play."""
    strip = view.root.locator(".eco-strip .eco-run")
    expect(strip).to_have_count(n)
    for index in range(n):
        play = strip.nth(index).get_by_role("button", name=re.compile(r"^Play: "))
        if play.count():
            play.click()
    _wait_json(view, _HISTORY_PLAYING_JS, n, f"the {n} earlier videos to play")


def check_threads(
    view: VideoWidgetView, variant: Variant, on_subshell: tuple[str, ...], *others: str
) -> list[list[str | None]]:
    """Where the front end's messages reached the kernel: with subshells on, on the main
    thread or a subshell, and messages of each of ``on_subshell`` on a subshell; with
    them off, all on the main thread. Messages of ``on_subshell`` and ``others`` came.

    (ipykernel 7.4 routes a ``comm_msg`` to the subshell its comm last published from,
    so a request that comes before the widget published anything from a front-end
    message is handled on the main thread.)"""
    received = view.kernel_value("threads")
    print(f"threads of the front end's messages ({variant.kind}, {variant.setting}):", received)
    kinds = {kind for _, kind in received}
    assert {*on_subshell, *others} <= kinds, received
    if not variant.subshells:
        assert all(MAIN_THREAD.fullmatch(thread) for thread, _ in received), received
        return received
    assert all(
        MAIN_THREAD.fullmatch(thread) or SUBSHELL_THREAD.fullmatch(thread) for thread, _ in received
    ), received
    for kind in on_subshell:
        assert any(
            SUBSHELL_THREAD.fullmatch(thread) for thread, seen in received if seen == kind
        ), f"no {kind!r} message arrived on a subshell: {received}"
    return received


# -- the tests --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variant",
    [LAB_DEFAULT, LAB_OFF, NOTEBOOK_DEFAULT],
    ids=["lab-default", "lab-subshells-off", "notebook7-default"],
)
def test_generate_three_times_in_a_row(start_server, open_notebook, variant) -> None:
    server = start_server(variant)
    before = Books.read(server)
    view = open_widget(open_notebook(server, [WIDGET_CELL]), variant)

    keys: list[str] = []
    for prompt in PROMPTS:
        generate(view, prompt)
        run = newest_run_ends(view, keys)
        assert_playing(view, run)
        assert run["text"].count(prompt) >= 1, run
        keys.append(run["key"])

    play_history(view, len(PROMPTS) - 1)
    assert view.run_count() == len(PROMPTS)
    assert phases(view) == ["completed"] * 3
    check_threads(view, variant, ("generate",), "video")
    check_books(view, before, len(PROMPTS), shown_job_ids(view))


def test_two_quick_clicks_make_two_videos(start_server, open_notebook) -> None:
    server = start_server(LAB_DEFAULT)
    before = Books.read(server)
    view = open_widget(open_notebook(server, [WIDGET_CELL]), LAB_DEFAULT)

    view.prompt.fill(PROMPTS[0])
    view.generate_button.click()
    view.generate_button.click()

    runs = _wait_json(view, _ALL_ENDED_JS, [2, list(ACTIVE_PHASES)], "two runs to end")
    assert [run["phase"] for run in runs] == ["completed", "completed"], _cards(view)
    play_history(view, 1)
    current = view.root.locator(".eco-current .eco-run video")
    expect(current).to_have_count(1)
    assert current.evaluate("v => v.readyState >= 2 && v.videoWidth") == VIDEO_WIDTH
    assert phases(view) == ["completed"] * 2
    check_threads(view, LAB_DEFAULT, ("generate",))
    # The first run went to the history strip at once, and a history card prints no id.
    check_books(view, before, 2, shown_job_ids(view) | front_end_job_ids(view.notebook))


def test_a_gallery_of_three_plays_three_videos(start_server, open_notebook) -> None:
    server = start_server(LAB_DEFAULT)
    before = Books.read(server)
    notebook = open_notebook(server, [GALLERY_CELL])
    notebook.run_all()
    view = VideoWidgetView(notebook, name="g")
    root = view.root
    cards = root.locator(".eco-grid-list .eco-run")
    expect(cards).to_have_count(3)
    check_setting(notebook, LAB_DEFAULT)
    assert cards.locator(".eco-run-prompt").all_text_contents() == GALLERY_PROMPTS

    _wait_json(view, _GRID_PLAYING_JS, 3, "the gallery's 3 videos to play")

    expect(root.locator(".eco-grid-summary")).to_have_text("3 videos · 3 completed")
    assert view.kernel_value("[v.prompt for v in g.wait()]") == GALLERY_PROMPTS
    check_threads(view, LAB_DEFAULT, (), "video")
    check_books(view, before, 3, front_end_job_ids(notebook))


def test_stop_waiting_then_generate_again(start_server, open_notebook) -> None:
    server = start_server(LAB_DEFAULT)
    before = Books.read(server)
    view = open_widget(open_notebook(server, [WIDGET_CELL]), LAB_DEFAULT)
    current = view.root.locator(".eco-current .eco-run")

    generate(view, PROMPTS[0])
    expect(current).to_have_attribute("data-phase", re.compile(r"^(queued|processing)$"))
    expect(current).to_contain_text(JOB_ID)
    current.get_by_role("button", name="Stop waiting").click()

    stopped = newest_run_ends(view, [])
    assert stopped["phase"] == "stopped", _cards(view)
    assert "Stopped waiting" in stopped["text"], stopped
    job_ids = JOB_ID.findall(stopped["text"])
    assert job_ids, stopped
    job_id = job_ids[0]
    new = Books.read(server).since(before)
    assert new.journal == {job_id}
    assert new.created == {job_id}

    generate(view, PROMPTS[1])
    run = newest_run_ends(view, [stopped["key"]])
    assert_playing(view, run)
    assert phases(view) == ["completed", "stopped"]
    check_threads(view, LAB_DEFAULT, ("generate",), "stop")
    check_books(view, before, 2, shown_job_ids(view))


def test_resume_after_a_restart_then_generate_again(start_server, open_notebook) -> None:
    server = start_server(LAB_DEFAULT, home="resume")
    before = Books.read(server)
    notebook = open_notebook(server, [WIDGET_CELL])
    submitted = notebook.execute(SUBMIT)
    assert submitted["status"] == "ok", submitted
    job_id = ast.literal_eval(submitted["result"])
    assert JOB_ID.fullmatch(job_id)

    notebook.page.evaluate(_RESTART_JS)  # the kernel, and its sandbox, start again
    notebook.wait_kernel_idle()
    view = open_widget(notebook, LAB_DEFAULT)
    banner = view.root.get_by_role("region", name="Jobs from an earlier session")
    expect(banner).to_be_visible()
    expect(banner.locator(".eco-pending-title")).to_have_text(
        "1 job from an earlier session is still pending"
    )
    banner.get_by_role("button", name="Resume").click()

    expect(banner).to_be_hidden()
    resumed = newest_run_ends(view, [])
    assert_playing(view, resumed)
    assert JOB_ID.findall(resumed["text"])[:1] == [job_id], resumed

    generate(view, PROMPTS[0])
    run = newest_run_ends(view, [resumed["key"]])
    assert_playing(view, run)
    play_history(view, 1)
    assert phases(view) == ["completed"] * 2
    check_threads(view, LAB_DEFAULT, ("generate",), "resume")
    check_books(view, before, 2, shown_job_ids(view))
