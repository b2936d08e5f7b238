"""The widget's front end (eco_widget/notebook/static/widget.js) in Chromium, without a kernel.

``tests/browser/harness/`` is a static page with a fake anywidget model; it is served
over a loopback HTTP server and driven with Playwright. The MP4 that the fake kernel
sends is a real sandbox video. Screenshots go to ``$ECO_SCREENSHOTS`` (default
the temporary folder's ``eco-shots``).
"""

from __future__ import annotations

import copy
import functools
import http.server
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.jupyter import (
    CHROMIUM,
    CHROMIUM_ARGS,
    chromium_missing_message,
    screenshots_dir,
)

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).resolve().parent / "harness"
STATIC = ROOT / "eco_widget" / "notebook" / "static"
SHOTS = screenshots_dir(Path(tempfile.gettempdir()) / "eco-shots")
XSS = '<img src=x onerror="window.__xss=1">'
# `${uid}-q${n}`: the view's uid (a count and a random part), then the request's number.
REQUEST_ID = re.compile(r"eco\d+-[a-z0-9]+-q\d+")
CURRENT_VIDEO_PLAYABLE = """() => {
    const v = document.querySelector('.eco-current video');
    return v !== null && v.readyState >= 2 && v.videoWidth === 832;
}"""

pytestmark = pytest.mark.slow


# -- serving the harness -----------------------------------------------------------------
class _HarnessHandler(http.server.SimpleHTTPRequestHandler):
    """``/harness/…`` from tests/browser/harness, ``/static/…`` from eco_widget/notebook/static and
    the sample videos (``/sample.mp4``, ``/sample-long.mp4``) from memory; nothing else."""

    extensions_map = {  # noqa: RUF012 (the base class's own attribute)
        ".html": "text/html",
        ".js": "text/javascript",
        ".css": "text/css",
        "": "application/octet-stream",
    }

    def __init__(self, *args: Any, videos: dict[str, bytes], **kwargs: Any) -> None:
        self.videos = videos
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, folder in (("/harness/", HARNESS), ("/static/", STATIC)):
            if path.startswith(prefix):
                target = (folder / path[len(prefix) :]).resolve()
                if target.is_relative_to(folder):
                    return str(target)
        return str(HARNESS / "missing")

    def do_GET(self) -> None:
        video = self.videos.get(self.path.split("?", 1)[0])
        if video is not None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(video)))
            self.end_headers()
            self.wfile.write(video)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def mp4() -> bytes:
    """A real sandbox video: 9 frames of 832×480 H.264."""
    from eco_widget._params import VideoParams
    from eco_widget.server._sandbox_render import render_sandbox_video

    return render_sandbox_video(VideoParams.create("x", seed=1, num_frames=9))


@pytest.fixture(scope="module")
def mp4_long() -> bytes:
    """A longer sandbox video: 17 frames at 16 fps (the sample has 9)."""
    from eco_widget._params import VideoParams
    from eco_widget.server._sandbox_render import render_sandbox_video

    return render_sandbox_video(VideoParams.create("y", seed=2, num_frames=17))


@pytest.fixture(scope="module")
def python_state() -> dict[str, Any]:
    """A new ``VideoWidget``'s synced state that the harness's defaults take: the real
    ``limits``, ``max_active`` and form values."""
    from eco_widget import VideoWidget
    from eco_widget._params import PARAMETERS

    widget = VideoWidget()
    try:
        names = ("limits", "max_active", "prompt", *PARAMETERS)
        return {name: getattr(widget, name) for name in names}
    finally:
        widget.close()


@pytest.fixture(scope="module")
def harness_url(mp4: bytes, mp4_long: bytes) -> Iterator[str]:
    videos = {"/sample.mp4": mp4, "/sample-long.mp4": mp4_long}
    handler = functools.partial(_HarnessHandler, videos=videos)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="harness-http", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/harness/index.html"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium; the tests fail, never skip, when it is missing."""
    missing = chromium_missing_message()
    if missing:
        pytest.fail(missing, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield browser
        browser.close()


@pytest.fixture
def harness(chromium: Any, harness_url: str, python_state: dict[str, Any]) -> Iterator[Any]:
    """The harness page (1200×900), with the sample MP4 loaded and Python's initial state
    as the defaults of every mount; fails the test on any page error or console error."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(harness_url)
    page.wait_for_function("() => window.harness !== undefined")
    page.evaluate("() => harness.loadMp4()")
    page.evaluate(
        "state => { const base = harness.defaultState.bind(harness);"
        " harness.defaultState = () => ({...base(), ...state}); }",
        python_state,
    )
    yield page
    context.close()
    assert not errors, errors


# -- helpers ------------------------------------------------------------------------------
def mount(page: Any, **state: Any) -> None:
    page.evaluate("state => harness.mount(state)", state)


def set_runs(page: Any, *runs: dict[str, Any]) -> None:
    """Set the ``runs`` trait (newest first) from partial runs."""
    page.evaluate("runs => harness.setRuns(runs)", list(runs))


def sent(page: Any, kind: str | None = None) -> list[dict[str, Any]]:
    return page.evaluate("kind => harness.sent.filter(m => !kind || m.type === kind)", kind)


def requests(page: Any, kind: str) -> list[dict[str, Any]]:
    """The ``kind`` messages sent, each without its request id, once every id was checked
    to be well formed and used only once."""
    messages = sent(page, kind)
    ids = [message.get("request") for message in messages]
    assert all(isinstance(i, str) and REQUEST_ID.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids), ids
    return [{k: v for k, v in message.items() if k != "request"} for message in messages]


def answers(page: Any) -> list[dict[str, Any]]:
    """Every answer the fake kernel sent, in order."""
    return page.evaluate("() => harness.answers")


def model(page: Any, name: str) -> Any:
    return page.evaluate("name => harness.model.get(name)", name)


def live_text(page: Any) -> str:
    return page.locator(".eco-widget [aria-live=polite]").first.text_content()


def field(page: Any, label: str) -> Any:
    return page.get_by_label(label, exact=True)


# -- the form -----------------------------------------------------------------------------
def test_form_has_accessible_names_and_the_limits(harness):
    mount(harness)
    prompt = harness.get_by_role("textbox", name="Prompt")
    generate = harness.get_by_role("button", name="Generate", exact=True)
    assert prompt.is_visible()
    assert generate.is_visible()
    assert prompt.evaluate("el => el.tagName") == "TEXTAREA"
    expected = {
        "Frames": ("1", "81", "1", "33"),
        "FPS": ("1", "60", "1", "16"),
        "Steps": ("20", "80", "1", "50"),
        "Guidance": ("0", "20", "0.1", "5"),
    }
    for label, (low, high, step, value) in expected.items():
        box = field(harness, label)
        assert box.get_attribute("type") == "number"
        assert (box.get_attribute("min"), box.get_attribute("max")) == (low, high)
        assert box.get_attribute("step") == step
        assert box.input_value() == value
    seed = field(harness, "Seed")
    assert seed.get_attribute("placeholder") == "random"
    assert seed.input_value() == ""
    billed = "2.06 s of video (33 frames at 16 fps) will be billed"
    assert harness.locator(".eco-billed").text_content() == billed
    assert harness.locator(".eco-footer").text_content().startswith("via sandbox")


def test_ctrl_enter_submits_the_params(harness):
    mount(harness)
    prompt = harness.get_by_role("textbox", name="Prompt")
    prompt.fill("a paper boat on a rainy street")
    field(harness, "Frames").fill("17")
    field(harness, "Seed").fill("42")
    prompt.press("Control+Enter")
    harness.wait_for_function("() => harness.sent.some(m => m.type === 'generate')")
    assert requests(harness, "generate") == [
        {
            "type": "generate",
            "params": {
                "prompt": "a paper boat on a rainy street",
                "num_frames": 17,
                "fps": 16,
                "num_inference_steps": 50,
                "guidance_scale": 5,
                "seed": 42,
            },
        }
    ]
    # The form's values reached the traits (and so Python) too.
    assert model(harness, "prompt") == "a paper boat on a rainy street"
    assert (model(harness, "num_frames"), model(harness, "seed")) == (17, 42)
    saved = harness.evaluate("() => Object.assign({}, ...harness.model.saves)")
    assert saved["num_frames"] == 17 and saved["seed"] == 42


def test_cmd_enter_and_the_button_submit_too(harness):
    mount(harness, prompt="a lighthouse in fog")
    harness.get_by_role("textbox", name="Prompt").press("Meta+Enter")
    harness.wait_for_function("() => harness.sent.some(m => m.type === 'generate')")
    mount(harness, prompt="a lighthouse in fog", seed=7)
    harness.get_by_role("button", name="Generate", exact=True).click()
    harness.wait_for_function("() => harness.sent.some(m => m.type === 'generate')")
    assert sent(harness, "generate")[0]["params"]["seed"] == 7


def test_a_blank_prompt_is_refused_in_the_form(harness):
    mount(harness, num_frames=21)
    prompt = harness.get_by_role("textbox", name="Prompt")
    prompt.fill("   ")
    harness.get_by_role("button", name="Generate", exact=True).click()
    error = harness.locator(".eco-field--prompt .eco-field-error")
    assert error.is_visible()
    assert "Enter a prompt" in error.text_content()
    assert prompt.get_attribute("aria-invalid") == "true"
    assert error.get_attribute("id") in prompt.get_attribute("aria-describedby").split()
    assert prompt.evaluate("el => el === document.activeElement")
    assert sent(harness, "generate") == []
    assert field(harness, "Frames").input_value() == "21"
    # Typing clears the error.
    prompt.type("a cat")
    assert not error.is_visible()
    assert prompt.get_attribute("aria-invalid") is None


def test_a_prompt_over_the_limit_is_refused_in_the_form(harness):
    mount(harness, prompt="🎈" * 2000)
    counter = harness.locator(".eco-counter")
    assert counter.text_content() == "2000 / 2000"  # code points, as Python counts
    prompt = harness.get_by_role("textbox", name="Prompt")
    prompt.press("End")
    prompt.type("!")
    assert counter.text_content() == "2001 / 2000"
    assert "eco-counter--over" in counter.get_attribute("class")
    prompt.press("Control+Enter")
    error = harness.locator(".eco-field--prompt .eco-field-error").text_content()
    assert error == "The prompt has 2001 characters; at most 2000 are allowed."
    assert sent(harness, "generate") == []


def test_out_of_range_values_are_refused_in_the_form(harness):
    mount(harness, prompt="a red balloon")
    frames = field(harness, "Frames")
    frames.fill("500")
    harness.get_by_role("button", name="Generate", exact=True).click()
    error = harness.locator(".eco-field--num_frames .eco-field-error")
    assert error.text_content() == "Frames must be a whole number from 1 to 81; got 500."
    assert frames.get_attribute("aria-invalid") == "true"
    assert frames.evaluate("el => el === document.activeElement")
    assert frames.input_value() == "500"
    assert model(harness, "num_frames") == 33  # never written to the trait
    assert harness.locator(".eco-billed").text_content().startswith("Set valid frames")
    field(harness, "Seed").fill("-1")
    frames.fill("2.5")
    harness.get_by_role("button", name="Generate", exact=True).click()
    assert "whole number" in error.text_content()
    seed_error = harness.locator(".eco-field--seed .eco-field-error").text_content()
    assert seed_error.startswith("Seed must be a whole number from 0 to 4294967295")
    assert sent(harness, "generate") == []
    assert harness.get_by_role("textbox", name="Prompt").input_value() == "a red balloon"


def test_python_form_errors_are_shown_and_cleared_by_editing(harness):
    mount(harness, prompt="a red balloon")
    message = "fps must be an integer from 1 to 60; got 0."
    harness.evaluate("m => harness.model.pyset('form_error', {param: 'fps', message: m})", message)
    fps_error = harness.locator(".eco-field--fps .eco-field-error")
    assert fps_error.text_content() == message
    assert field(harness, "FPS").get_attribute("aria-invalid") == "true"
    field(harness, "FPS").fill("24")
    assert not fps_error.is_visible()
    # An error about no field in particular is shown under the form, as an alert.
    harness.evaluate(
        "() => harness.model.pyset('form_error', {param: null, message: 'Not allowed.'})"
    )
    general = harness.locator(".eco-form-error")
    assert general.text_content() == "Not allowed."
    assert general.get_attribute("role") == "alert"
    harness.get_by_role("textbox", name="Prompt").type("!")
    assert not general.is_visible()


def test_the_billed_length_follows_the_form(harness):
    mount(harness)
    billed = harness.locator(".eco-billed")
    field(harness, "Frames").fill("81")
    field(harness, "FPS").fill("24")
    assert billed.text_content() == "3.38 s of video (81 frames at 24 fps) will be billed"
    field(harness, "Frames").fill("1")
    field(harness, "FPS").fill("1")
    assert billed.text_content() == "1 s of video (1 frame at 1 fps) will be billed"


def test_the_form_follows_the_traits(harness):
    mount(harness, prompt="hello", num_frames=21, guidance_scale=7.5, seed=7)
    assert harness.get_by_role("textbox", name="Prompt").input_value() == "hello"
    assert field(harness, "Frames").input_value() == "21"
    assert field(harness, "Guidance").input_value() == "7.5"
    assert field(harness, "Seed").input_value() == "7"
    harness.evaluate("() => harness.model.pyset('num_frames', 49)")
    harness.evaluate("() => harness.model.pyset('seed', null)")
    assert field(harness, "Frames").input_value() == "49"
    assert field(harness, "Seed").input_value() == ""
    assert "49 frames" in harness.locator(".eco-billed").text_content()


def test_keys_typed_in_the_widget_stay_in_the_widget(harness):
    mount(harness)
    harness.evaluate(
        "() => { window.__keys = []; document.addEventListener('keydown',"
        " e => window.__keys.push(e.key)); }"
    )
    prompt = harness.get_by_role("textbox", name="Prompt")
    prompt.type("ab")
    prompt.press("Control+Enter")
    harness.get_by_role("button", name="Generate", exact=True).press("Enter")
    assert harness.evaluate("() => window.__keys") == []
    prompt.press("Escape")
    assert harness.evaluate("() => window.__keys") == ["Escape"]


def test_the_form_is_usable_by_keyboard(harness):
    mount(harness, prompt="a kite")
    harness.get_by_role("textbox", name="Prompt").focus()
    order = []
    for _ in range(6):
        harness.keyboard.press("Tab")
        order.append(
            harness.evaluate(
                "() => document.activeElement.labels?.[0]?.textContent"
                " ?? document.activeElement.textContent"
            )
        )
    assert order == ["Frames", "FPS", "Steps", "Guidance", "Seed", "Generate"]
    outline = harness.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    harness.keyboard.press("Enter")
    harness.wait_for_function("() => harness.sent.some(m => m.type === 'generate')")


# -- the limits trait ---------------------------------------------------------------------
def other_limits(python_limits: dict[str, Any]) -> dict[str, Any]:
    """Python's ``limits`` with other ranges, defaults, labels and words: what the view
    shows must follow them, since widget.js keeps none of its own."""
    limits = copy.deepcopy(python_limits)
    limits["num_frames"].update(max=121, default=49, label="Frame count")
    limits["fps"].update(min=8, max=30, default=24)
    limits["guidance_scale"].update(step=0.5, default=7.5)
    limits["prompt"]["max_chars"] = 12
    limits["phases"].update(queued="In line", processing="Rendering", completed="Done")
    limits["tallies"]["waiting"] = "awaiting a slot"
    limits["pending_statuses"]["processing"] = "rendering on the server"
    return limits


def test_the_harness_demo_limits_are_pythons(harness, python_state):
    assert harness.evaluate("() => harness.LIMITS") == python_state["limits"]


def test_the_form_takes_ranges_defaults_and_labels_from_limits(harness, python_state):
    limits = other_limits(python_state["limits"])
    # Traits without a value: the form shows the defaults that `limits` gives.
    mount(harness, limits=limits, num_frames=None, fps=None, guidance_scale=None)
    frames = field(harness, "Frame count")
    assert frames.input_value() == "49"
    assert (frames.get_attribute("min"), frames.get_attribute("max")) == ("1", "121")
    assert harness.locator(".eco-field--num_frames .eco-hint").text_content() == "1–121"
    assert field(harness, "FPS").input_value() == "24"
    guidance = field(harness, "Guidance")
    assert (guidance.input_value(), guidance.get_attribute("step")) == ("7.5", "0.5")
    billed = "2.04 s of video (49 frames at 24 fps) will be billed"
    assert harness.locator(".eco-billed").text_content() == billed
    assert harness.locator(".eco-counter").text_content() == "0 / 12"

    frames.fill("100")  # over Python's usual 81, within these limits
    field(harness, "FPS").fill("6")
    prompt = harness.get_by_role("textbox", name="Prompt")
    prompt.fill("a kite")  # 6 of the 12 characters allowed
    prompt.press("Control+Enter")
    error = harness.locator(".eco-field--fps .eco-field-error")
    assert error.text_content() == "FPS must be a whole number from 8 to 30; got 6."
    assert not harness.locator(".eco-field--num_frames .eco-field-error").is_visible()
    field(harness, "FPS").fill("30")
    prompt.press("Control+Enter")
    harness.wait_for_function("() => harness.sent.some(m => m.type === 'generate')")
    params = sent(harness, "generate")[0]["params"]
    assert (params["num_frames"], params["fps"], params["guidance_scale"]) == (100, 30, 7.5)


def test_runs_and_the_banner_take_their_words_from_limits(harness, python_state):
    limits = other_limits(python_state["limits"])
    mount(harness, limits=limits, prompt="a kite at dusk")
    set_runs(harness, {"key": "r2", "phase": "queued"}, {"key": "r1", "phase": "queued"})
    set_runs(
        harness,
        {"key": "r2", "phase": "processing", "fraction": 0.5},
        {"key": "r1", "phase": "completed"},
    )
    assert live_text(harness).startswith("Rendering, 50 %")
    earlier = harness.locator(".eco-strip .eco-run-label")
    assert earlier.text_content() == "Done"
    set_runs(harness, {"key": "r2", "phase": "queued"}, {"key": "r1", "phase": "processing"})
    assert earlier.text_content() == "Rendering 0 %"
    set_runs(harness, {"key": "r2", "phase": "completed"}, {"key": "r1", "phase": "queued"})
    assert live_text(harness) == "Done: video ready"
    assert earlier.text_content() == "In line"
    # The facts of the finished run use the parameters' labels.
    terms = harness.locator(".eco-current .eco-facts dt").all_text_contents()
    assert "Frame count" in terms and "Frames" not in terms

    # A gallery's counts and the pending banner.
    mount(harness, limits=limits, mode="grid", pending=PENDING[:1])
    set_runs(harness, {"key": "r2", "phase": "waiting", "job_id": None}, {"key": "r1"})
    summary = harness.locator(".eco-grid-summary").text_content()
    assert summary == "2 videos · 1 running · 1 awaiting a slot"
    grid_labels = harness.locator(".eco-grid-list .eco-run-label").all_text_contents()
    assert grid_labels[0] == "Queued"  # the run's own phase_label wins on a grid card
    facts = harness.locator(".eco-pending-facts").text_content()
    assert facts.startswith("rendering on the server, submitted")


def test_the_view_follows_a_change_of_limits(harness, python_state):
    mount(harness)
    set_runs(harness, {"key": "r2", "phase": "completed"}, {"key": "r1", "phase": "queued"})
    assert harness.locator(".eco-strip .eco-run-label").text_content() == "Queued"
    harness.evaluate("l => harness.model.pyset('limits', l)", other_limits(python_state["limits"]))
    assert harness.locator(".eco-strip .eco-run-label").text_content() == "In line"
    assert field(harness, "Frame count").get_attribute("max") == "121"


def test_without_limits_the_form_still_works(harness):
    mount(harness, limits={}, prompt="a kite")
    frames = field(harness, "num_frames")
    assert frames.get_attribute("max") is None
    assert harness.locator(".eco-counter").text_content() == "6"
    harness.get_by_role("button", name="Generate", exact=True).click()
    harness.wait_for_function("() => harness.sent.some(m => m.type === 'generate')")
    assert sent(harness, "generate")[0]["params"]["num_frames"] == 33


# -- generate requests and the kernel's answers -------------------------------------------
FPS_REFUSAL = "fps must be an integer from 1 to 60; got 0."
STATUS = ".eco-form-status"


def view(page: Any, index: int) -> Any:
    return page.locator(".harness-view").nth(index)


def test_two_quick_clicks_send_two_generate_requests(harness):
    mount(harness, prompt="a kite over a beach", seed=5)
    harness.evaluate("() => { harness.simulateKernel(60_000); harness.hold(); }")
    generate = harness.get_by_role("button", name="Generate", exact=True)
    generate.click()
    generate.click()
    # No lock, no guess: two requests, each waiting for its own answer.
    messages = requests(harness, "generate")
    assert len(messages) == 2
    assert messages[0] == messages[1]
    assert messages[0]["params"]["prompt"] == "a kite over a beach"
    expect(harness.locator(STATUS)).to_have_text("Starting 2 runs…")
    assert harness.locator(STATUS).get_attribute("role") == "status"
    assert harness.evaluate("() => harness.release()") == 2
    ids = [message["request"] for message in sent(harness, "generate")]
    assert answers(harness) == [
        {"type": "answer", "request": ids[0], "ok": True, "run": "r1"},
        {"type": "answer", "request": ids[1], "ok": True, "run": "r2"},
    ]
    expect(harness.locator(STATUS)).to_have_text("")
    keys = harness.locator(".eco-run").evaluate_all("cs => cs.map(c => c.dataset.key)")
    assert keys == ["r2", "r1"]
    assert not harness.locator(".eco-field-error, .eco-form-error").first.is_visible()


def test_a_refused_generate_shows_the_error_on_its_field_and_keeps_the_values(harness):
    mount(harness, prompt="a red balloon", num_frames=21, seed=7)
    harness.evaluate("m => harness.refuse('generate', m, 'fps')", FPS_REFUSAL)
    generate = harness.get_by_role("button", name="Generate", exact=True)
    generate.click()
    fps = field(harness, "FPS")
    fps_error = harness.locator(".eco-field--fps .eco-field-error")
    expect(fps_error).to_have_text(FPS_REFUSAL)
    expect(fps).to_have_attribute("aria-invalid", "true")
    expect(fps).to_be_focused()  # the focus was in the widget (on Generate)
    expect(harness.locator(STATUS)).to_have_text("")
    request = sent(harness, "generate")[0]["request"]
    assert answers(harness) == [
        {"type": "answer", "request": request, "ok": False, "param": "fps", "message": FPS_REFUSAL}
    ]
    values = [
        harness.get_by_role("textbox", name="Prompt").input_value(),
        *(field(harness, name).input_value() for name in ("Frames", "FPS", "Seed")),
    ]
    assert values == ["a red balloon", "21", "16", "7"]
    assert model(harness, "form_error") == {"param": "fps", "message": FPS_REFUSAL}

    # Editing hides it; the same refusal again leaves the trait as it was, and the
    # answer alone shows it.
    fps.fill("16")
    expect(fps_error).to_be_hidden()
    generate.click()
    harness.wait_for_function("() => harness.answers.length === 2")
    expect(fps_error).to_have_text(FPS_REFUSAL)
    expect(fps).to_have_attribute("aria-invalid", "true")

    # A refusal about no field (or about something that is no field) goes under the
    # form, as text.
    general = harness.locator(".eco-form-error")
    for param in (None, "colour"):
        harness.evaluate("([m, p]) => harness.refuse('generate', m, p)", [XSS, param])
        generate.click()
        expect(general).to_have_text(XSS)
        expect(fps_error).to_be_hidden()
    assert general.get_attribute("role") == "alert"
    assert harness.locator(".eco-widget img").count() == 0
    assert harness.evaluate("() => window.__xss") is None

    # Accepted: the error goes.
    harness.evaluate("() => harness.accept('generate')")
    generate.click()
    harness.wait_for_function("() => harness.answers.at(-1).ok === true")
    expect(general).to_be_hidden()
    assert len(requests(harness, "generate")) == 5
    assert values == [
        harness.get_by_role("textbox", name="Prompt").input_value(),
        *(field(harness, name).input_value() for name in ("Frames", "FPS", "Seed")),
    ]


def test_an_answer_to_another_views_request_is_ignored(harness):
    mount(harness, prompt="a koi pond")
    harness.evaluate("() => { harness.addView(); harness.hold(); }")
    first, second = view(harness, 0), view(harness, 1)
    first.get_by_role("button", name="Generate", exact=True).click()
    expect(first.locator(STATUS)).to_have_text("Starting…")
    expect(second.locator(STATUS)).to_have_text("")
    # Answers to requests this view never sent: refused and accepted.
    harness.evaluate(
        """m => {
            harness.model.reply({type: 'answer', request: 'eco99-zzzzz-q1', ok: false,
                                 param: 'fps', message: m});
            harness.model.reply({type: 'answer', request: 'eco99-zzzzz-q2', ok: true, run: 'r9'});
            harness.model.reply({type: 'answer', ok: false, param: null, message: m});
        }""",
        FPS_REFUSAL,
    )
    for each in (first, second):
        expect(each.locator(".eco-field-error:visible, .eco-form-error:visible")).to_have_count(0)
    expect(first.locator(STATUS)).to_have_text("Starting…")

    # The refusal of the first view's request (without a new `form_error`) shows in the
    # first view only.
    harness.evaluate("m => harness.refuse('generate', m, 'fps', {trait: false})", FPS_REFUSAL)
    harness.evaluate("() => harness.release()")
    expect(first.locator(".eco-field--fps .eco-field-error")).to_have_text(FPS_REFUSAL)
    expect(first.locator(STATUS)).to_have_text("")
    expect(second.locator(".eco-field-error:visible, .eco-form-error:visible")).to_have_count(0)


def test_no_outcome_changes_while_the_answer_is_delayed(harness):
    harness.clock.install()
    harness.clock.pause_at(1_800_000_000_000)
    # A refusal is standing from before; pressing Generate again hides it.
    form_error = {"param": "fps", "message": FPS_REFUSAL}
    mount(harness, prompt="a red balloon", form_error=form_error)
    fps_error = harness.locator(".eco-field--fps .eco-field-error")
    expect(fps_error).to_have_text(FPS_REFUSAL)
    harness.evaluate("() => harness.hold()")
    harness.get_by_role("textbox", name="Prompt").press("Control+Enter")
    expect(harness.locator(STATUS)).to_have_text("Starting…")
    expect(fps_error).to_be_hidden()

    # Seconds go by without an answer: nothing is decided, nothing is locked.
    harness.clock.run_for(5000)
    expect(harness.locator(STATUS)).to_have_text("Starting…")
    expect(harness.locator(".eco-field-error:visible, .eco-form-error:visible")).to_have_count(0)
    assert field(harness, "FPS").get_attribute("aria-invalid") is None
    assert len(sent(harness, "generate")) == 1
    assert answers(harness) == []

    # The answer comes: the same refusal (the trait does not change), shown from it.
    harness.evaluate(
        "m => { harness.refuse('generate', m, 'fps'); harness.release(); }", FPS_REFUSAL
    )
    expect(fps_error).to_have_text(FPS_REFUSAL)
    expect(harness.locator(STATUS)).to_have_text("")

    # Again, delayed, then accepted: no error at any point.
    harness.evaluate("() => { harness.accept('generate'); harness.hold(); }")
    harness.get_by_role("button", name="Generate", exact=True).click()
    harness.clock.run_for(5000)
    expect(harness.locator(STATUS)).to_have_text("Starting…")
    expect(fps_error).to_be_hidden()
    harness.evaluate("() => harness.release()")
    expect(harness.locator(STATUS)).to_have_text("")
    expect(fps_error).to_be_hidden()
    assert model(harness, "form_error") is None
    assert [answer["ok"] for answer in answers(harness)] == [False, True]


def test_answers_after_the_view_is_gone_change_nothing(harness):
    mount(harness, prompt="a lighthouse in fog")
    set_runs(harness, {"key": "r1", "phase": "processing"})
    harness.evaluate("() => harness.hold()")
    harness.get_by_role("button", name="Generate", exact=True).click()
    harness.get_by_role("button", name="Stop waiting").click()
    harness.evaluate("() => harness.unmount(0)")
    assert harness.evaluate("() => harness.model.listenerCount()") == 0
    harness.evaluate("() => { harness.refuse('stop', 'no'); harness.release(); }")
    assert len(answers(harness)) == 2
    assert harness.locator(".eco-widget").count() == 0


# -- a run --------------------------------------------------------------------------------
def test_a_run_goes_through_its_phases(harness):
    mount(harness)
    bar = harness.get_by_role("progressbar")
    label = harness.locator(".eco-current .eco-run-label")
    set_runs(harness, {"phase": "waiting", "job_id": None, "seed": None})
    assert label.text_content() == "Waiting for a free slot (5 jobs running)"
    assert live_text(harness) == "Waiting for a free slot (5 jobs running)"
    assert "eco-progress--idle" in bar.get_attribute("class")

    set_runs(harness, {"phase": "queued", "fraction": 0.05, "seed": 1234})
    assert label.text_content() == "Queued"
    assert live_text(harness) == "Queued"
    meta = harness.locator(".eco-current .eco-run-meta").text_content()
    assert meta == "Job vid_0123456789abcdef01234567 · Seed 1234"

    processing = {"phase": "processing", "phase_label": "Processing, 40 %", "estimated": False}
    set_runs(harness, {**processing, "fraction": 0.4})
    assert label.text_content() == "Processing, 40 %"
    assert live_text(harness) == "Processing, 40 %"
    assert bar.get_attribute("aria-valuenow") == "40"
    assert bar.get_attribute("aria-valuetext") == "40 %"
    assert "eco-progress--estimated" not in bar.get_attribute("class")
    fill = harness.locator(".eco-current .eco-progress-fill")
    assert fill.evaluate("el => el.style.width") == "40%"
    times = harness.locator(".eco-current .eco-run-time").text_content()
    assert re.fullmatch(r"\d+ s elapsed · about \d+ s left", times), times

    # Small steps are not announced; a quarter more is.
    set_runs(harness, {**processing, "fraction": 0.45, "phase_label": "Processing, 45 %"})
    assert live_text(harness) == "Processing, 40 %"
    set_runs(harness, {**processing, "fraction": 0.8, "phase_label": "Processing, 80 %"})
    assert live_text(harness) == "Processing, 80 %"

    set_runs(harness, {"phase": "downloading", "fraction": 0.95, "estimated": True})
    assert live_text(harness) == "Downloading"
    assert bar.get_attribute("aria-valuetext") == "About 95 % (estimated)"
    assert "eco-progress--estimated" in bar.get_attribute("class")

    set_runs(harness, {"phase": "completed"})
    assert live_text(harness) == "Completed: video ready"
    assert not bar.is_visible()
    assert harness.get_by_role("button", name="Stop waiting").count() == 0


def test_elapsed_time_and_eta_tick_in_the_browser(harness):
    harness.clock.install()
    harness.clock.pause_at(1_800_000_000_000)
    mount(harness)
    harness.evaluate(
        "() => harness.setRuns([{phase: 'processing', started_at: Date.now() - 5000,"
        " elapsed_seconds: 5, eta_seconds: 20, eta_at: Date.now()}])"
    )
    times = harness.locator(".eco-current .eco-run-time")
    assert times.text_content() == "5 s elapsed · about 20 s left"
    harness.clock.run_for(3000)
    assert times.text_content() == "8 s elapsed · about 17 s left"
    harness.clock.run_for(60_000)
    assert times.text_content() == "1 min 08 s elapsed · almost done"
    set_runs(harness, {"phase": "completed", "total_seconds": 64.2})
    assert times.text_content() == "took 1 min 04 s"
    harness.clock.run_for(5000)
    assert times.text_content() == "took 1 min 04 s"


def test_stop_waiting_sends_stop_and_says_the_job_goes_on(harness):
    mount(harness)
    set_runs(harness, {"key": "r7", "phase": "processing", "fraction": 0.3})
    stop = harness.get_by_role("button", name="Stop waiting")
    hint = harness.locator(".eco-current .eco-stop-hint")
    assert "keeps running on the server" in hint.text_content()
    assert hint.get_attribute("id") in stop.get_attribute("aria-describedby")
    stop.click()
    assert requests(harness, "stop") == [{"type": "stop", "key": "r7"}]
    # The kernel accepted: "Stopping…" stays until the run is no longer active.
    expect(harness.locator(".eco-current .eco-stop")).to_have_text("Stopping…")
    assert answers(harness) == [
        {"type": "answer", "request": sent(harness, "stop")[0]["request"], "ok": True, "run": "r7"}
    ]
    stopping = harness.get_by_role("button", name="Stopping…")
    assert stopping.get_attribute("aria-disabled") == "true"
    stopping.evaluate("button => button.click()")
    assert len(sent(harness, "stop")) == 1
    note = "Stopped waiting. The job goes on on the server: resume it with its id."
    set_runs(harness, {"key": "r7", "phase": "stopped", "note": note})
    assert harness.locator(".eco-current .eco-note").text_content() == note
    assert harness.locator(".eco-current .eco-stop").is_hidden()
    assert live_text(harness) == "Stopped waiting. The job goes on on the server."
    assert harness.locator(".eco-current .eco-run-meta").text_content().startswith("Job vid_")


def test_a_refused_stop_says_why_and_can_be_tried_again(harness):
    mount(harness)
    set_runs(harness, {"key": "r7", "phase": "processing", "fraction": 0.3})
    reason = "Run r7 is finishing: " + XSS
    harness.evaluate("m => { harness.refuse('stop', m); harness.hold(); }", reason)
    stop = harness.locator(".eco-current .eco-stop")
    stop.click()
    # Unanswered: "Stopping…", whatever the time it takes.
    expect(stop).to_have_text("Stopping…")
    expect(stop).to_have_attribute("aria-disabled", "true")
    harness.evaluate("() => harness.release()")
    note = harness.locator(".eco-current .eco-note")
    expect(note).to_have_text(reason)
    assert "eco-note--error" in note.get_attribute("class")
    expect(stop).to_have_text("Stop waiting")
    expect(stop).not_to_have_attribute("aria-disabled", "true")
    assert live_text(harness) == reason
    assert harness.locator(".eco-widget img").count() == 0
    assert harness.evaluate("() => window.__xss") is None
    # The run updates: the reason stays while it is active.
    set_runs(harness, {"key": "r7", "phase": "processing", "fraction": 0.5})
    expect(note).to_have_text(reason)

    harness.evaluate("() => harness.accept('stop')")
    stop.click()
    expect(stop).to_have_text("Stopping…")
    expect(note).to_be_hidden()
    assert requests(harness, "stop") == [{"type": "stop", "key": "r7"}] * 2
    assert [answer["ok"] for answer in answers(harness)] == [False, True]


def test_errors_are_shown_in_plain_words_and_the_form_keeps_its_values(harness):
    mount(harness, prompt="a glass of water", num_frames=49, seed=3)
    set_runs(
        harness,
        {
            "phase": "error",
            "error": {"kind": "authentication", "message": "The API key was not accepted."},
        },
    )
    alert = harness.locator(".eco-current .eco-error")
    assert alert.get_attribute("role") == "alert"
    assert alert.text_content() == "Authentication failed. The API key was not accepted."
    assert live_text(harness) == "Error: The API key was not accepted."
    assert harness.get_by_role("textbox", name="Prompt").input_value() == "a glass of water"
    assert field(harness, "Frames").input_value() == "49"
    assert field(harness, "Seed").input_value() == "3"


def test_a_sixth_job_waits_visibly_for_a_slot(harness):
    mount(harness)
    running = [
        {"key": f"r{i}", "phase": "processing", "fraction": 0.2 * i} for i in range(5, 0, -1)
    ]
    set_runs(harness, {"key": "r6", "phase": "waiting", "job_id": None}, *running)
    assert (
        harness.locator(".eco-current .eco-run-label").text_content()
        == "Waiting for a free slot (5 jobs running)"
    )
    cards = harness.locator(".eco-strip .eco-run")
    assert cards.count() == 5
    assert harness.locator(".eco-strip .eco-stop").count() == 5
    footer = harness.locator(".eco-footer").text_content()
    assert footer == "via sandbox · 6 jobs running here · at most 5 at once per account"


# -- videos -------------------------------------------------------------------------------
def test_a_completed_run_plays_inline_with_download_and_facts(harness):
    mount(harness)
    set_runs(harness, {"phase": "completed", "prompt": "a red balloon", "seed": 1234})
    assert sent(harness, "video") == [{"type": "video", "key": "r1"}]
    harness.wait_for_function(CURRENT_VIDEO_PLAYABLE)
    video = harness.locator(".eco-current video")
    assert video.evaluate("v => v.getBoundingClientRect().width") == 832
    assert video.evaluate("v => [v.controls, v.loop, v.autoplay]") == [True, True, False]
    link = harness.get_by_role("link", name="Download")
    assert link.get_attribute("download") == "a-red-balloon-s1234.mp4"
    assert link.get_attribute("href").startswith("blob:")
    facts = dict(
        zip(
            harness.locator(".eco-current .eco-facts dt").all_text_contents(),
            harness.locator(".eco-current .eco-facts dd").all_text_contents(),
            strict=True,
        )
    )
    assert facts["Job"] == "vid_0123456789abcdef01234567"
    assert facts["Seed"].startswith("1234")
    assert (facts["Frames"], facts["FPS"], facts["Duration"]) == ("33", "16", "2.06 s")
    assert (facts["Queue"], facts["Render"]) == ("1.2 s", "3.4 s")
    saved = harness.locator(".eco-current .eco-saved").text_content()
    assert saved == "Saved to /home/user/.local/share/ecohash/videos/a-red-balloon-s1234.mp4"
    # The seed can go back into the form.
    harness.get_by_role("button", name="Use seed 1234 in the form").click()
    assert field(harness, "Seed").input_value() == "1234"
    assert model(harness, "seed") == 1234


def test_a_run_watched_to_completion_plays_by_itself(harness):
    mount(harness)
    set_runs(harness, {"phase": "processing", "fraction": 0.5})
    set_runs(harness, {"phase": "completed"})
    harness.wait_for_function(CURRENT_VIDEO_PLAYABLE)
    harness.wait_for_function("() => !document.querySelector('.eco-current video').paused")
    assert harness.locator(".eco-current video").evaluate("v => v.muted")


def test_every_view_fetches_the_video_itself(harness):
    mount(harness)
    set_runs(harness, {"phase": "completed"})
    harness.evaluate("() => harness.addView()")
    harness.wait_for_function(
        "() => [...document.querySelectorAll('.eco-current video')]"
        ".filter(v => v.readyState >= 2 && v.videoWidth === 832).length === 2"
    )
    assert sent(harness, "video") == [{"type": "video", "key": "r1"}] * 2
    urls = harness.locator(".eco-current video").evaluate_all("vs => vs.map(v => v.src)")
    assert len(set(urls)) == 2
    # Closing one view revokes its URL only.
    harness.evaluate("() => harness.unmount(0)")
    assert harness.evaluate("() => harness.blobs.revoked") == [urls[0]]
    assert harness.locator(".eco-current video").evaluate("v => v.readyState") >= 2


def test_history_cards_are_newest_first_and_play_on_demand(harness):
    mount(harness)
    set_runs(
        harness,
        {"key": "r3", "phase": "processing", "fraction": 0.6, "prompt": "third"},
        {"key": "r2", "phase": "completed", "prompt": "second", "seed": 22},
        {
            "key": "r1",
            "phase": "failed",
            "prompt": "first",
            "error": {"kind": "failed", "message": "The job failed: out of memory"},
        },
    )
    cards = harness.locator(".eco-strip .eco-run")
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.key)") == ["r2", "r1"]
    assert harness.locator(".eco-history-title").text_content() == "Earlier (2)"
    assert "Seed 22" in cards.nth(0).text_content()
    assert "out of memory" in cards.nth(1).locator(".eco-error").text_content()
    assert cards.nth(1).locator(".eco-error").get_attribute("role") is None
    assert sent(harness, "video") == []  # nothing fetched until asked for
    harness.get_by_role("button", name="Play: second").click()
    assert sent(harness, "video") == [{"type": "video", "key": "r2"}]
    harness.wait_for_function(
        "() => { const v = document.querySelector('.eco-strip video');"
        " return v && v.readyState >= 2 && v.videoWidth === 832 && !v.paused; }"
    )
    assert cards.nth(0).get_by_role("link", name="Download").get_attribute("download") == (
        "second-s22.mp4"
    )
    # The newest run completes: it becomes the playing video, the old ones keep theirs.
    set_runs(
        harness,
        {"key": "r3", "phase": "completed", "prompt": "third"},
        {"key": "r2", "phase": "completed", "prompt": "second", "seed": 22},
        {"key": "r1", "phase": "failed", "prompt": "first"},
    )
    harness.wait_for_function(CURRENT_VIDEO_PLAYABLE)
    assert [m["key"] for m in sent(harness, "video")] == ["r2", "r3"]
    # A new run pushes the current one into the strip, video and all.
    set_runs(
        harness,
        {"key": "r4", "phase": "submitting", "prompt": "fourth"},
        {"key": "r3", "phase": "completed", "prompt": "third"},
        {"key": "r2", "phase": "completed", "prompt": "second", "seed": 22},
        {"key": "r1", "phase": "failed", "prompt": "first"},
    )
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.key)") == ["r3", "r2", "r1"]
    assert cards.nth(0).locator("video").evaluate("v => v.readyState") >= 2
    assert len(sent(harness, "video")) == 2


def test_a_missing_video_is_explained_and_can_be_retried(harness):
    mount(harness)
    harness.evaluate("() => { harness.autoReply = false; }")
    set_runs(harness, {"phase": "completed"})
    assert harness.locator(".eco-current .eco-media-note").text_content() == "Loading video…"
    harness.evaluate(
        "() => harness.model.reply({type: 'video_missing', key: 'r1',"
        " message: 'Cannot read it: <b>gone</b>'})"
    )
    note = harness.locator(".eco-current .eco-media-note")
    assert note.text_content() == "Cannot read it: <b>gone</b>"
    harness.get_by_role("button", name="Try again").click()
    assert len(sent(harness, "video")) == 2
    harness.evaluate("() => harness.replyVideo('r1')")
    harness.wait_for_function(CURRENT_VIDEO_PLAYABLE)


def test_server_text_is_never_html(harness):
    mount(harness, prompt=XSS, backend=XSS)
    harness.evaluate("x => harness.model.pyset('form_error', {param: null, message: x})", XSS)
    set_runs(
        harness,
        {
            "key": "r2",
            "phase": "failed",
            "prompt": XSS,
            "phase_label": XSS,
            "note": XSS,
            "error": {"kind": XSS, "message": XSS},
        },
        {"key": "r1", "phase": "completed", "prompt": XSS, "seed": 5, "job_id": XSS},
    )
    harness.get_by_role("button", name=f"Play: {XSS}").click()
    harness.wait_for_function("() => document.querySelector('.eco-strip video')?.readyState >= 2")
    assert harness.get_by_role("textbox", name="Prompt").input_value() == XSS
    assert harness.locator(".eco-current .eco-run-prompt").text_content() == XSS
    assert harness.locator(".eco-current .eco-run-label").text_content() == XSS
    assert harness.locator(".eco-current .eco-error-text").text_content() == XSS
    assert harness.locator(".eco-form-error").text_content() == XSS
    assert harness.get_by_text(XSS).count() >= 5
    assert harness.locator(".eco-widget img, .eco-widget script").count() == 0
    assert harness.evaluate("() => window.__xss") is None


def test_cleanup_revokes_blob_urls_and_removes_listeners(harness):
    mount(harness)
    set_runs(
        harness,
        {"key": "r2", "phase": "processing", "fraction": 0.5},
        {"key": "r1", "phase": "completed"},
    )
    harness.get_by_role("button", name=re.compile("^Play:")).click()
    harness.wait_for_function("() => document.querySelector('.eco-strip video')?.readyState >= 2")
    set_runs(harness, {"key": "r2", "phase": "completed"}, {"key": "r1", "phase": "completed"})
    harness.wait_for_function(CURRENT_VIDEO_PLAYABLE)
    created = harness.evaluate("() => harness.blobs.created")
    assert len(created) == 2
    assert harness.evaluate("() => harness.blobs.revoked") == []
    # A run that leaves the list takes its URL with it.
    set_runs(harness, {"key": "r2", "phase": "completed"})
    assert harness.evaluate("() => harness.blobs.revoked") == [created[0]]
    set_runs(harness, {"key": "r3", "phase": "queued"}, {"key": "r2", "phase": "completed"})
    assert harness.evaluate("() => harness.intervals.size") == 1
    harness.evaluate("() => harness.unmount(0)")
    assert sorted(harness.evaluate("() => harness.blobs.revoked")) == sorted(created)
    assert harness.evaluate("() => harness.model.listenerCount()") == 0
    assert harness.evaluate("() => harness.intervals.size") == 0
    assert harness.locator(".eco-widget").count() == 0


def test_a_simulated_kernel_end_to_end(harness):
    mount(harness)
    harness.evaluate("() => harness.simulateKernel(60)")
    harness.get_by_role("textbox", name="Prompt").fill("a hot air balloon over hills")
    harness.get_by_role("button", name="Generate", exact=True).click()
    harness.wait_for_function(CURRENT_VIDEO_PLAYABLE)
    assert live_text(harness) == "Completed: video ready"
    link = harness.get_by_role("link", name="Download")
    assert link.get_attribute("download") == "a-hot-air-balloon-over-hills-s4242.mp4"


# -- looks --------------------------------------------------------------------------------
def _showcase(page: Any) -> None:
    """The widget as it looks mid-session: one run rendering, earlier ones below."""
    mount(page, prompt="a red balloon drifting over a calm sea at dawn, soft light", seed=1234)
    set_runs(
        page,
        {
            "key": "r4",
            "phase": "processing",
            "phase_label": "Processing, 42 %",
            "fraction": 0.42,
            "estimated": False,
            "prompt": "a red balloon drifting over a calm sea at dawn, soft light",
        },
        {"key": "r3", "phase": "completed", "prompt": "a paper boat on a rainy street", "seed": 7},
        {
            "key": "r2",
            "phase": "failed",
            "prompt": "a city of glass at night",
            "error": {
                "kind": "failed",
                "message": "The job failed: the renderer ran out of memory",
            },
        },
        {
            "key": "r1",
            "phase": "stopped",
            "prompt": "a lighthouse in fog",
            "note": "Stopped waiting. The job goes on on the server.",
        },
    )
    page.get_by_role("button", name="Play: a paper boat on a rainy street").click()
    page.wait_for_function("() => document.querySelector('.eco-strip video')?.readyState >= 2")


def _completed(page: Any) -> None:
    mount(page, prompt="a red balloon drifting over a calm sea at dawn, soft light", seed=1234)
    set_runs(
        page,
        {
            "key": "r2",
            "phase": "completed",
            "prompt": "a red balloon drifting over a calm sea at dawn, soft light",
        },
        {"key": "r1", "phase": "completed", "prompt": "a paper boat on a rainy street", "seed": 7},
    )
    page.wait_for_function(CURRENT_VIDEO_PLAYABLE)


def _shoot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.locator("main").screenshot(path=str(path), animations="disabled")
    return path


@pytest.mark.parametrize("theme", ["light", "dark", "plain", "plain-dark"])
def test_screenshots(harness, theme):
    harness.evaluate("t => harness.setTheme(t)", theme)
    _showcase(harness)
    running = _shoot(harness, f"{theme}-running")
    _completed(harness)
    completed = _shoot(harness, f"{theme}-completed")
    assert running.stat().st_size > 10_000 and completed.stat().st_size > 10_000
    # Text and background differ clearly in every theme.
    fg, bg = harness.locator(".eco-widget").evaluate(
        "el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]"
    )
    assert fg != bg


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_narrow_cell(harness, theme):
    harness.evaluate("t => harness.setTheme(t)", theme)
    harness.evaluate("() => harness.setWidth(360)")
    _showcase(harness)
    set_runs(harness, {"key": "r9", "phase": "completed"})
    harness.wait_for_function("() => document.querySelector('.eco-current video')?.readyState >= 2")
    root = harness.locator(".eco-widget")
    assert root.evaluate("el => el.scrollWidth <= el.clientWidth")
    width = harness.locator(".eco-current video").evaluate("v => v.getBoundingClientRect().width")
    assert width <= root.evaluate("el => el.clientWidth")
    _shoot(harness, f"{theme}-narrow")


# -- the gallery's grid and the offer of pending jobs --------------------------------------
GRID_VIDEOS_PLAYABLE = """n => {
    const videos = [...document.querySelectorAll('.eco-grid-list .eco-run video')];
    return videos.length === n && videos.every(v => v.readyState >= 2 && v.videoWidth === 832);
}"""


def test_a_gallery_shows_its_runs_as_a_grid_in_item_order(harness):
    mount(harness, mode="grid")
    assert not harness.locator(".eco-form").is_visible()
    assert harness.locator(".eco-grid-summary").text_content() == "No videos yet."
    set_runs(
        harness,
        {"key": "r3", "phase": "waiting", "prompt": XSS, "job_id": None},
        {"key": "r2", "phase": "processing", "phase_label": "Processing, 40 %", "fraction": 0.4},
        {"key": "r1", "phase": "completed", "prompt": "first"},
    )
    cards = harness.locator(".eco-grid-list .eco-run")
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.key)") == ["r1", "r2", "r3"]
    assert cards.evaluate_all("cs => cs.every(c => c.classList.contains('eco-run--grid'))")
    labels = harness.locator(".eco-grid-list .eco-run-label").all_text_contents()
    assert labels == ["Completed", "Processing, 40 %", "Waiting for a free slot (5 jobs running)"]
    summary = harness.locator(".eco-grid-summary").text_content()
    assert summary == "3 videos · 1 completed · 1 running · 1 waiting for a slot"
    # A finished card fetches its video by itself and plays it inline.
    harness.wait_for_function(GRID_VIDEOS_PLAYABLE, arg=1)
    assert sent(harness, "video") == [{"type": "video", "key": "r1"}]
    bar = cards.nth(1).get_by_role("progressbar")
    assert bar.get_attribute("aria-valuenow") == "40"
    # Text from Python stays text.
    assert cards.nth(2).locator(".eco-run-prompt").text_content() == XSS
    assert harness.locator(".eco-widget img").count() == 0
    assert harness.evaluate("() => window.__xss") is None
    assert not harness.locator(".eco-history").is_visible()

    set_runs(
        harness,
        {"key": "r3", "phase": "completed", "prompt": XSS},
        {"key": "r2", "phase": "completed"},
        {"key": "r1", "phase": "completed", "prompt": "first"},
    )
    harness.wait_for_function(GRID_VIDEOS_PLAYABLE, arg=3)
    assert harness.locator(".eco-grid-summary").text_content() == "3 videos · 3 completed"


def test_a_grid_card_can_stop_waiting(harness):
    mount(harness, mode="grid")
    set_runs(harness, {"key": "r2", "phase": "queued"}, {"key": "r1", "phase": "processing"})
    harness.locator(".eco-run[data-key='r2']").get_by_role("button", name="Stop waiting").click()
    assert requests(harness, "stop") == [{"type": "stop", "key": "r2"}]


def test_the_mode_can_change_and_the_cards_move(harness):
    mount(harness)
    set_runs(harness, {"key": "r2", "phase": "queued"}, {"key": "r1", "phase": "completed"})
    assert harness.locator(".eco-current .eco-run").get_attribute("data-key") == "r2"
    harness.evaluate("() => harness.model.pyset('mode', 'grid')")
    keys = harness.locator(".eco-grid-list .eco-run").evaluate_all(
        "cs => cs.map(c => c.dataset.key)"
    )
    assert keys == ["r1", "r2"]
    assert harness.locator(".eco-current .eco-run").count() == 0
    harness.evaluate("() => harness.model.pyset('mode', 'form')")
    assert harness.locator(".eco-current .eco-run").get_attribute("data-key") == "r2"
    assert harness.locator(".eco-form").is_visible()


PENDING = [
    {
        "job_id": "vid_aaaaaaaaaaaaaaaaaaaaaaaa",
        "prompt": XSS,
        "seed": 7,
        "status": "processing",
        "submitted_at": 0,
    },
    {
        "job_id": "vid_bbbbbbbbbbbbbbbbbbbbbbbb",
        "prompt": "a koi pond",
        "seed": 8,
        "status": "completed",
        "submitted_at": 0,
    },
]


def test_the_pending_banner_offers_resume(harness):
    mount(harness)
    banner = harness.get_by_role("region", name="Jobs from an earlier session")
    assert not banner.is_visible()
    now = harness.evaluate("() => Date.now()")
    pending = [{**item, "submitted_at": now - 125_000} for item in PENDING]
    harness.evaluate("p => harness.model.pyset('pending', p)", pending)

    assert banner.is_visible()
    title = banner.locator(".eco-pending-title").text_content()
    assert title == "2 jobs from an earlier session are still pending"
    prompts = banner.locator(".eco-pending-prompt").all_text_contents()
    assert prompts == [XSS, "a koi pond"]
    facts = banner.locator(".eco-pending-facts").all_text_contents()
    assert facts[0] == "processing, submitted 2 min 05 s ago · seed 7"
    assert facts[1].startswith("done, not downloaded yet")
    assert harness.locator(".eco-widget img").count() == 0
    assert harness.evaluate("() => window.__xss") is None

    resume = banner.get_by_role("button", name="Resume")
    resume.click()
    busy = banner.get_by_role("button", name="Resuming…")
    assert busy.get_attribute("aria-disabled") == "true"
    busy.click(force=True)  # a second click while resuming sends nothing more
    assert requests(harness, "resume") == [{"type": "resume"}]
    # Accepted: "Resuming…" until `pending` empties.
    request = sent(harness, "resume")[0]["request"]
    assert answers(harness) == [
        {"type": "answer", "request": request, "ok": True, "runs": ["r1", "r2"]}
    ]
    assert busy.get_attribute("aria-disabled") == "true"
    harness.evaluate("() => harness.model.pyset('pending', [])")
    assert not banner.is_visible()

    harness.evaluate("p => harness.model.pyset('pending', p)", pending[:1])
    title = banner.locator(".eco-pending-title").text_content()
    assert title == "1 job from an earlier session is still pending"
    assert banner.get_by_role("button", name="Resume").is_enabled()


def test_a_refused_resume_says_why_in_the_banner(harness):
    mount(harness, pending=PENDING)
    banner = harness.get_by_role("region", name="Jobs from an earlier session")
    reason = "The journal cannot be read: " + XSS
    harness.evaluate("m => { harness.refuse('resume', m); harness.hold(); }", reason)
    banner.get_by_role("button", name="Resume").click()
    busy = banner.get_by_role("button", name="Resuming…")
    expect(busy).to_have_attribute("aria-disabled", "true")
    harness.evaluate("() => harness.release()")
    error = banner.locator(".eco-pending-error")
    expect(error).to_have_text(reason)
    assert error.get_attribute("role") == "alert"
    resume = banner.get_by_role("button", name="Resume")
    expect(resume).not_to_have_attribute("aria-disabled", "true")
    assert harness.locator(".eco-widget img").count() == 0
    assert harness.evaluate("() => window.__xss") is None

    harness.evaluate("() => harness.accept('resume')")
    resume.click()
    expect(busy).to_be_visible()
    expect(error).to_be_hidden()
    assert requests(harness, "resume") == [{"type": "resume"}] * 2
    assert answers(harness)[-1]["runs"] == ["r1", "r2"]
    harness.evaluate("() => harness.model.pyset('pending', [])")
    assert not banner.is_visible()


def test_a_long_offer_shows_the_first_five(harness):
    many = [{**PENDING[1], "job_id": f"vid_{i:024d}", "prompt": f"clip {i}"} for i in range(8)]
    mount(harness, pending=many)
    items = harness.locator(".eco-pending-item").all_text_contents()
    assert len(items) == 6 and items[-1] == "and 3 more"
    assert harness.locator(".eco-pending-title").text_content().startswith("8 jobs")


def test_a_gallery_shows_the_banner_too(harness):
    mount(harness, mode="grid", pending=PENDING[:1])
    assert harness.get_by_role("region", name="Jobs from an earlier session").is_visible()
    set_runs(harness, {"key": "r1", "phase": "resuming", "job_id": PENDING[0]["job_id"]})
    assert harness.locator(".eco-grid-list .eco-run-label").text_content() == "Looking up the job"


# -- a gallery's sweep, its shared transport, and compare mode ----------------------------
SEED = {"name": "seed", "label": "Seed", "values": [1, 2]}
GUIDANCE = {"name": "guidance_scale", "label": "Guidance", "values": [3.0, 5.0]}
STEPS = {"name": "num_inference_steps", "label": "Steps", "values": [30, 50]}
FPS = {"name": "fps", "label": "FPS", "values": [16]}
FRAME = 1 / 16  # the sample videos' fps (the runs' `fps`)
GALLERY_VIDEOS_PLAYABLE = """n => {
    const videos = [...document.querySelectorAll('.eco-grid video, .eco-compare video')];
    return videos.length === n && videos.every(v => v.readyState >= 2 && v.videoWidth === 832);
}"""
# Each video's currentTime, duration and state, in page order.
VIDEO_STATES = """() => [...document.querySelectorAll('.eco-grid video, .eco-compare video')]
    .map(v => ({ key: v.dataset.key, time: v.currentTime, duration: v.duration, paused: v.paused,
    ended: v.ended, loop: v.loop, rate: v.playbackRate }))"""


def set_sweep(page: Any, *axes: dict[str, Any], **options: Any) -> None:
    """One completed run per combination of ``axes`` (``r1``… with the first axis fastest)
    and the ``sweep`` trait naming them."""
    page.evaluate("([axes, options]) => harness.setSweep(axes, options)", [list(axes), options])


def videos(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(VIDEO_STATES)


def spread(times: list[float], period: float) -> float:
    """How far apart looping videos' times are, measured around their loop point."""
    gaps = [abs(a - b) for a in times for b in times]
    return max(min(gap, period - gap) for gap in gaps)


def sweep_rows(page: Any, block: int = 0) -> list[list[str]]:
    """A sweep table's rows as header texts and the run key in each cell ('-' for none)."""
    return (
        page.locator(".eco-sweep-table")
        .nth(block)
        .evaluate(
            """t => [...t.rows].map(r => [...r.cells].map(c => c.tagName === 'TH' ? c.textContent
            : (c.querySelector('.eco-run')?.dataset.key ?? '-')))"""
        )
    )


def test_a_sweep_is_a_table_with_a_run_in_each_cell(harness):
    mount(harness, mode="grid")
    set_sweep(harness, SEED, GUIDANCE)
    assert harness.locator(".eco-sweep-table").count() == 1
    assert harness.locator(".eco-sweep-heading").count() == 0
    assert sweep_rows(harness) == [
        ["Guidance ╲ Seed", "Seed 1", "Seed 2"],
        ["Guidance 3.0", "r1", "r2"],
        ["Guidance 5.0", "r3", "r4"],
    ]
    headers = harness.locator(".eco-sweep-table th")
    assert headers.evaluate_all("hs => hs.map(h => h.scope)") == ["col", "col", "col", "row", "row"]
    # Each cell holds the card of its own combination: its live status, then its video.
    cells = harness.locator(".eco-sweep-cell .eco-run")
    runs = model(harness, "runs")
    by_key = {run["key"]: run for run in runs}
    for key in cells.evaluate_all("cs => cs.map(c => c.dataset.key)"):
        i = int(key[1:]) - 1
        assert (by_key[key]["seed"], by_key[key]["guidance_scale"]) == (
            [1, 2][i % 2],
            [3, 5][i // 2],
        )
    harness.wait_for_function(GALLERY_VIDEOS_PLAYABLE, arg=4)
    assert harness.locator(".eco-grid-list").is_hidden()
    # Without a sweep the same runs are the plain grid again, oldest first.
    harness.evaluate("() => harness.model.pyset('sweep_layout', null)")
    assert harness.locator(".eco-sweep-table").count() == 0
    keys = harness.locator(".eco-grid-list .eco-run").evaluate_all(
        "cs => cs.map(c => c.dataset.key)"
    )
    assert keys == ["r1", "r2", "r3", "r4"]


def test_a_sweep_shows_placeholders_for_runs_not_there_yet(harness):
    mount(harness, mode="grid")
    set_sweep(harness, SEED, GUIDANCE, started=3, omit=[1], phase="queued")
    assert sweep_rows(harness)[1:] == [["Guidance 3.0", "r1", "-"], ["Guidance 5.0", "r3", "-"]]
    assert harness.locator(".eco-sweep-cell .eco-sweep-empty").count() == 2
    labels = harness.locator(".eco-sweep-cell .eco-run-label").all_text_contents()
    assert labels == ["Queued", "Queued"]
    # The missing run starts, then the fourth combination is listed too.
    set_sweep(harness, SEED, GUIDANCE, started=3, phase="processing")
    assert sweep_rows(harness)[1:] == [["Guidance 3.0", "r1", "r2"], ["Guidance 5.0", "r3", "-"]]
    set_sweep(harness, SEED, GUIDANCE, phase="processing")
    assert sweep_rows(harness)[2] == ["Guidance 5.0", "r3", "r4"]
    assert harness.locator(".eco-sweep-empty").count() == 0


def test_further_axes_make_blocks_with_headings(harness):
    mount(harness, mode="grid")
    set_sweep(harness, SEED, GUIDANCE, STEPS, FPS, phase="queued")
    headings = harness.locator(".eco-sweep-heading").all_text_contents()
    assert headings == ["Steps 30 · FPS 16", "Steps 50 · FPS 16"]
    assert harness.locator(".eco-sweep-table").count() == 2
    assert sweep_rows(harness, 0)[1:] == [
        ["Guidance 3.0", "r1", "r2"],
        ["Guidance 5.0", "r3", "r4"],
    ]
    assert sweep_rows(harness, 1) == [
        ["Guidance ╲ Seed", "Seed 1", "Seed 2"],
        ["Guidance 3.0", "r5", "r6"],
        ["Guidance 5.0", "r7", "r8"],
    ]
    run7 = next(run for run in model(harness, "runs") if run["key"] == "r7")
    assert (run7["seed"], run7["guidance_scale"], run7["num_inference_steps"]) == (1, 5, 50)
    set_sweep(harness, SEED, GUIDANCE, STEPS, FPS, omit=[3])
    harness.wait_for_function(GALLERY_VIDEOS_PLAYABLE, arg=7)
    _shoot(harness, "sweep")


def test_a_one_axis_sweep_is_one_row(harness):
    mount(harness, mode="grid")
    set_sweep(harness, {"name": "guidance_scale", "label": "Guidance", "values": [2.5, 5.0, 7]})
    assert sweep_rows(harness) == [
        ["Guidance 2.5", "Guidance 5.0", "Guidance 7.0"],
        ["r1", "r2", "r3"],
    ]


def test_a_prompt_axis_shows_the_prompt_as_text(harness):
    long = "a red balloon drifting over a calm sea at dawn, soft golden light, gentle waves"
    mount(harness, mode="grid")
    set_sweep(harness, {"name": "prompt", "label": "Prompt", "values": [XSS, long]}, SEED)
    columns = harness.locator(".eco-sweep-table thead th[scope=col]:not(.eco-sweep-corner)")
    assert columns.nth(0).text_content() == XSS
    shown = columns.nth(1).text_content()
    assert shown.endswith("…") and long.startswith(shown[:-1]) and len(shown) <= 40
    assert columns.nth(1).get_attribute("title") == long
    assert sweep_rows(harness)[1] == ["Seed 1", "r1", "r2"]
    assert harness.locator(".eco-widget img").count() == 0
    assert harness.evaluate("() => window.__xss") is None


def test_play_all_scrub_and_step_drive_every_video(harness):
    mount(harness, mode="grid")
    set_sweep(harness, SEED, GUIDANCE)
    harness.wait_for_function(GALLERY_VIDEOS_PLAYABLE, arg=4)
    transport = harness.get_by_role("toolbar", name="Playback of every video")
    assert all(video["paused"] for video in videos(harness))
    slider = transport.get_by_role("slider", name="Time")
    assert float(slider.get_attribute("max")) == pytest.approx(9 / 16, abs=0.01)

    transport.get_by_role("button", name="Play all").click()
    expect(transport.get_by_role("button", name="Pause all")).to_be_visible()
    states = videos(harness)
    assert len(states) == 4 and not any(video["paused"] for video in states)
    # The slider follows playback.
    harness.wait_for_function(
        "() => Number(document.querySelector('.eco-transport-time').value) > 0.1"
    )
    # A video that drifts is put back within a frame of the others.
    harness.evaluate(
        "() => { const v = document.querySelectorAll('.eco-grid video')[2];"
        " v.currentTime = (v.currentTime + 0.25) % v.duration; }"
    )
    harness.wait_for_function(
        """f => {
            const vs = [...document.querySelectorAll('.eco-grid video')];
            const ts = vs.map(v => v.currentTime), d = vs[0].duration;
            const gap = (a, b) => Math.min(Math.abs(a - b), d - Math.abs(a - b));
            return ts.every(a => ts.every(b => gap(a, b) <= f));
        }""",
        arg=FRAME,
    )
    # Scrubbing while playing moves all four together (slowly, so that the check can
    # follow): to the point opposite where they are.
    transport.get_by_role("combobox", name="Speed").select_option("0.25")
    states = videos(harness)
    duration = states[0]["duration"]
    goal = round((states[0]["time"] + duration / 2) % duration, 3)
    slider.fill(str(goal))
    harness.wait_for_function(
        "() => [...document.querySelectorAll('.eco-grid video')].every(v => !v.seeking)"
    )
    states = videos(harness)
    times = [video["time"] for video in states]
    assert spread(times, duration) <= FRAME
    assert all(min(abs(t - goal), duration - abs(t - goal)) < 0.15 for t in times), (goal, times)
    assert not any(video["paused"] for video in states)

    transport.get_by_role("button", name="Pause all").click()
    expect(transport.get_by_role("button", name="Play all")).to_be_visible()
    states = videos(harness)
    assert all(video["paused"] for video in states)
    times = [video["time"] for video in states]
    assert max(times) - min(times) < 1e-3  # all on the leader's frame
    slider.fill("0.25")
    assert [video["time"] for video in videos(harness)] == [0.25] * 4
    transport.get_by_role("button", name="Forward one frame").click()
    assert [video["time"] for video in videos(harness)] == pytest.approx([0.25 + FRAME] * 4)
    transport.get_by_role("button", name="Back one frame").click()
    transport.get_by_role("button", name="Back one frame").click()
    assert [video["time"] for video in videos(harness)] == pytest.approx([0.25 - FRAME] * 4)
    # Arrow keys on the timeline step by frames too.
    slider.press("ArrowRight")
    assert [video["time"] for video in videos(harness)] == pytest.approx([0.25] * 4)
    assert float(slider.input_value()) == pytest.approx(0.25)


def test_loop_speed_and_space_in_the_transport(harness):
    mount(harness, mode="grid")
    set_sweep(harness, SEED, GUIDANCE)
    harness.wait_for_function(GALLERY_VIDEOS_PLAYABLE, arg=4)
    transport = harness.get_by_role("toolbar", name="Playback of every video")
    loop = transport.get_by_role("button", name="Loop")
    assert loop.get_attribute("aria-pressed") == "true"
    assert all(video["loop"] for video in videos(harness))
    loop.click()
    assert loop.get_attribute("aria-pressed") == "false"
    assert not any(video["loop"] for video in videos(harness))
    loop.press("Space")  # a button's own Space presses it
    assert loop.get_attribute("aria-pressed") == "true"
    assert all(video["loop"] for video in videos(harness))

    speed = transport.get_by_role("combobox", name="Speed")
    assert speed.evaluate("s => [...s.options].map(o => o.value)") == ["0.25", "0.5", "1", "2"]
    speed.select_option("2")
    assert [video["rate"] for video in videos(harness)] == [2] * 4
    speed.select_option("0.25")
    assert [video["rate"] for video in videos(harness)] == [0.25] * 4

    # Space on the timeline plays and pauses everything.
    slider = transport.get_by_role("slider", name="Time")
    slider.focus()
    harness.keyboard.press("Space")
    expect(transport.get_by_role("button", name="Pause all")).to_be_visible()
    assert not any(video["paused"] for video in videos(harness))
    harness.keyboard.press("Space")
    expect(transport.get_by_role("button", name="Play all")).to_be_visible()
    assert all(video["paused"] for video in videos(harness))


def test_without_loop_videos_stop_at_their_own_ends(harness):
    mount(harness, mode="grid")
    harness.evaluate("() => harness.loadMp4For('r2', '/sample-long.mp4')")
    set_runs(harness, {"key": "r2", "phase": "completed"}, {"key": "r1", "phase": "completed"})
    harness.wait_for_function(GALLERY_VIDEOS_PLAYABLE, arg=2)
    transport = harness.get_by_role("toolbar", name="Playback of every video")
    slider = transport.get_by_role("slider", name="Time")
    assert float(slider.get_attribute("max")) == pytest.approx(17 / 16, abs=0.01)
    transport.get_by_role("button", name="Loop").click()
    transport.get_by_role("button", name="Play all").click()
    # The short one ends first; the long one plays on.
    harness.wait_for_function("() => document.querySelector('.eco-grid video[data-key=r1]').ended")
    short, long = videos(harness)
    assert short["time"] == pytest.approx(short["duration"])
    assert not long["paused"]
    expect(transport.get_by_role("button", name="Pause all")).to_be_visible()
    # Once every video has ended the transport says so.
    expect(transport.get_by_role("button", name="Play all")).to_be_visible()
    short, long = videos(harness)
    assert short["ended"] and long["ended"]
    assert long["time"] == pytest.approx(long["duration"])
    assert float(slider.input_value()) == pytest.approx(long["duration"], abs=0.01)
    # Play all again starts over from the beginning.
    transport.get_by_role("button", name="Play all").click()
    assert all(not video["paused"] and video["time"] < 0.3 for video in videos(harness))


def test_compare_mode_side_by_side_and_swipe(harness):
    mount(harness, mode="compare")
    set_runs(
        harness,
        {"key": "r2", "phase": "completed", "seed": 2, "prompt": XSS},
        {"key": "r1", "phase": "completed", "seed": 1},
    )
    assert not harness.locator(".eco-form").is_visible()
    compare = harness.get_by_role("region", name="Compare two videos")
    cards = compare.locator(".eco-compare-cards .eco-run")
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.key)") == ["r1", "r2"]
    assert cards.nth(1).locator(".eco-run-prompt").text_content() == XSS
    harness.wait_for_function(GALLERY_VIDEOS_PLAYABLE, arg=2)
    assert harness.locator(".eco-compare-cards video").count() == 0  # the stage has them
    stage = compare.locator(".eco-compare-stage")
    first, second = (stage.locator("video").nth(i) for i in range(2))
    assert [first.get_attribute("data-key"), second.get_attribute("data-key")] == ["r1", "r2"]
    box1, box2 = first.bounding_box(), second.bounding_box()
    assert box2["x"] >= box1["x"] + box1["width"]  # side by side
    handle = compare.get_by_role("slider", name="Split")
    assert not handle.is_visible()

    compare.get_by_role("button", name="Swipe").click()
    assert compare.get_by_role("button", name="Swipe").get_attribute("aria-pressed") == "true"
    box1, box2 = first.bounding_box(), second.bounding_box()
    assert (box1["x"], box1["y"]) == (box2["x"], box2["y"])  # overlaid
    clip = "v => getComputedStyle(v).clipPath"

    def split() -> float:
        """Where the second video's clip starts, in % of its width."""
        found = re.fullmatch(r"inset\(0px 0px 0px ([\d.]+)%\)", second.evaluate(clip))
        assert found, second.evaluate(clip)
        return float(found.group(1))

    assert split() == 50
    assert handle.get_attribute("aria-valuenow") == "50"
    # Dragging the handle moves the split.
    area = stage.bounding_box()
    grip = handle.bounding_box()
    harness.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    harness.mouse.down()
    harness.mouse.move(area["x"] + area["width"] * 0.25, area["y"] + 10, steps=4)
    harness.mouse.up()
    assert handle.get_attribute("aria-valuenow") == "25"
    assert split() == pytest.approx(25, abs=0.5)
    # And so do the arrow keys on it.
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    assert handle.get_attribute("aria-valuenow") == "27"
    assert split() == pytest.approx(27, abs=0.5)
    handle.press("Shift+ArrowLeft")
    assert handle.get_attribute("aria-valuenow") == "17"
    handle.press("End")
    assert split() == 100
    handle.press("PageDown")
    _shoot(harness, "compare-swipe")

    # One transport for both.
    transport = compare.get_by_role("toolbar", name="Playback of every video")
    transport.get_by_role("button", name="Play all").click()
    assert not any(video["paused"] for video in videos(harness))
    compare.get_by_role("button", name="Side by side").click()
    assert second.evaluate(clip) == "none"
    assert harness.locator(".eco-widget img").count() == 0
    assert harness.evaluate("() => window.__xss") is None


def test_compare_mode_waits_for_its_runs(harness):
    mount(harness, mode="compare")
    set_runs(
        harness,
        {"key": "r2", "phase": "processing", "phase_label": "Processing, 40 %", "fraction": 0.4},
        {"key": "r1", "phase": "completed"},
    )
    panes = harness.locator(".eco-compare-pane")
    harness.wait_for_function(GALLERY_VIDEOS_PLAYABLE, arg=1)
    assert panes.nth(1).text_content() == "Processing, 40 %"
    # A run seen running plays, with the other, as soon as its video is there.
    set_runs(harness, {"key": "r2", "phase": "completed"}, {"key": "r1", "phase": "completed"})
    harness.wait_for_function(GALLERY_VIDEOS_PLAYABLE, arg=2)
    harness.wait_for_function(
        "() => [...document.querySelectorAll('.eco-compare video')].every(v => !v.paused)"
    )
    expect(harness.get_by_role("button", name="Pause all")).to_be_visible()
