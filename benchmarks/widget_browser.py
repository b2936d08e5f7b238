"""From a finished job to its first frame in the browser.

JupyterLab in Debian's Chromium (Playwright), the kernel on the embedded sandbox (profile
``fast``). For ``--runs`` generations of one VideoWidget (81 frames; one more first,
unmeasured), prints the time from the kernel-side moment the run became ``completed``
(video downloaded and saved) to:

- the page showing the run as completed (the run card's ``data-phase``);
- the kernel sending the MP4 as a binary buffer (the view asked with ``{"type": "video"}``);
- the page receiving that message (the kernel connection's iopub signal);
- the first frame: the widget's ``<video>`` firing ``loadeddata`` (``readyState >= 2``)
  on a Blob URL.

Next to it, the naive alternative: a cell that awaits ``AsyncClient.generate()`` and then
displays ``IPython.display.Video(path, embed=True)`` (the MP4 as base64 in the output,
``preload="auto"`` like the widget's video), from the file being saved to that
``<video>``'s first frame.

Kernel and browser run on the same machine: times are wall-clock milliseconds
(``time.time()`` in the kernel, ``Date.now()`` in the page).

    python benchmarks/widget_browser.py [--runs 5]
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FRONT_END = REPO / "eco_widget" / "static" / "widget.js"
FRAMES = 81
TIMEOUT_MS = 60_000

WIDGET_CELL = f"""\
import time
from eco_widget import VideoWidget

w = VideoWidget(prompt="a lighthouse in a storm", num_frames={FRAMES}, num_inference_steps=20)
_video_sent = {{}}
_plain_send = w.send


def _timed_send(content, buffers=None):
    if content.get("type") == "video":
        _video_sent.setdefault(content["key"], time.time())
    return _plain_send(content, buffers)


def _finished_at(key):
    run = next(run for run in w._runs if run.key == key)
    return time.time() - (time.monotonic() - run.finished)


w.send = _timed_send
w
"""

NAIVE_CELL = f"""\
from IPython.display import Video as _Embedded, display
from eco_widget import AsyncClient

_client = AsyncClient()
_saved = await _client.generate(
    "a lighthouse in a storm", num_frames={FRAMES}, num_inference_steps=20,
    path=_client_folder,
)
_naive_done = time.time()
display(_Embedded(
    str(_saved.path), embed=True, mimetype="video/mp4", width=416,
    html_attributes='controls preload="auto"',
))
"""

RECORD_JS = """
() => {
  window.__frames = [];
  window.__completed = [];
  document.addEventListener('loadeddata', (event) => {
    const video = event.target;
    if (!(video instanceof HTMLVideoElement)) return;
    const card = video.closest('.eco-run');
    window.__frames.push({
      t: Date.now(),
      widget: Boolean(video.closest('.eco-widget')),
      current: Boolean(card && card.classList.contains('eco-run--current')),
      readyState: video.readyState,
      width: video.videoWidth,
    });
  }, true);
  window.__received = [];
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  kernel.iopubMessage.connect((_, msg) => {
    const data = msg.content && msg.content.data;
    if (msg.header.msg_type === 'comm_msg' && data && data.method === 'custom'
        && data.content && data.content.type === 'video') {
      window.__received.push(Date.now());
    }
  });
  new MutationObserver((records) => {
    for (const record of records) {
      const card = record.target;
      if (card.dataset.phase === 'completed' && card.classList.contains('eco-run--current')) {
        window.__completed.push(Date.now());
      }
    }
  }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['data-phase']});
}
"""

FIRST_FRAME_JS = """
([from, widget]) => window.__frames.slice(from).find(
  (f) => f.widget === widget && (!widget || f.current) && f.readyState >= 2 && f.width > 0
) || null
"""


def kernel_value(notebook: Any, expression: str) -> Any:
    reply = notebook.execute(expression)
    if reply["status"] != "ok":
        raise RuntimeError(f"{expression!r} failed: {reply}")
    return ast.literal_eval(reply["result"])


def widget_run(notebook: Any, page: Any, seed: int) -> dict[str, float]:
    frames, shown, received = page.evaluate(
        "() => [window.__frames.length, window.__completed.length, window.__received.length]"
    )
    notebook.execute(f"w.generate(seed={seed})")
    handle = page.wait_for_function(FIRST_FRAME_JS, arg=[frames, True], timeout=TIMEOUT_MS)
    first_frame = handle.json_value()["t"]
    key = kernel_value(notebook, "w._runs[-1].key")
    finished = 1000 * kernel_value(notebook, f"_finished_at({key!r})")
    sent = 1000 * kernel_value(notebook, f"_video_sent[{key!r}]")
    completed_shown, arrived = page.evaluate(
        f"() => [window.__completed[{shown}], window.__received[{received}]]"
    )
    return {
        "completed shown in the page": completed_shown - finished,
        "video bytes sent by the kernel": sent - finished,
        "video message received by the page": arrived - finished,
        "first frame (loadeddata)": first_frame - finished,
    }


def naive_run(notebook: Any, page: Any) -> float:
    frames = page.evaluate(
        "() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 2;"
        " return window.__frames.length; }"
    )
    notebook.command("notebook:run-cell")
    handle = page.wait_for_function(FIRST_FRAME_JS, arg=[frames, False], timeout=TIMEOUT_MS)
    first_frame = handle.json_value()["t"]
    notebook.wait_kernel_idle()
    return first_frame - 1000 * kernel_value(notebook, "_naive_done")


def report(label: str, values: list[float]) -> None:
    print(
        f"  {label:<42} {statistics.median(values):>9.0f} {min(values):>7.0f} {max(values):>7.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured generations of each kind")
    args = parser.parse_args()
    if not FRONT_END.is_file() or FRONT_END.stat().st_size < 10_000:
        sys.exit(f"{FRONT_END} is not the finished front end yet.")

    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.browser.jupyter import CHROMIUM, CHROMIUM_ARGS, JupyterServer, NotebookSession

    with tempfile.TemporaryDirectory() as tmp_name:
        home = Path(tmp_name)
        (home / "sandbox").mkdir()
        env = {
            "ECOHASH_BASE_URL": "sandbox",
            "ECOHASH_SANDBOX_PROFILE": "fast",
            "ECOHASH_SANDBOX_DIR": str(home / "sandbox"),
            "ECOHASH_HOME": str(home / "ecohash"),
            "ECOHASH_API_KEY": None,
        }
        server = JupyterServer.create("lab", home, env).start()
        try:
            server.notebook(
                "latency.ipynb",
                [WIDGET_CELL, f"_client_folder = {str(home / 'naive')!r}", NAIVE_CELL],
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
                )
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                notebook = NotebookSession(
                    server=server, page=page, name="latency.ipynb", shots=home
                ).open()
                page.evaluate(RECORD_JS)
                notebook.command("notebook:run-all-cells")
                page.locator(".eco-widget").first.wait_for(timeout=TIMEOUT_MS)
                page.wait_for_function(FIRST_FRAME_JS, arg=[0, False], timeout=TIMEOUT_MS)
                notebook.wait_kernel_idle()

                widget_run(notebook, page, 0)  # warms the view's media path up
                widget = [widget_run(notebook, page, seed) for seed in range(1, args.runs + 1)]
                naive = [naive_run(notebook, page) for _ in range(args.runs)]
                browser.close()
        finally:
            server.stop()

    print(f"Job completed (kernel) → browser, ms; {args.runs} runs, {FRAMES}-frame videos")
    print(f"  {'':<42} {'median':>9} {'min':>7} {'max':>7}")
    print(" VideoWidget (binary buffer over the comm, Blob URL)")
    for label in widget[0]:
        report(label, [run[label] for run in widget])
    print(" naive: await AsyncClient.generate(); display(Video(embed=True))")
    report("first frame (loadeddata), base64 data URL", naive)


if __name__ == "__main__":
    main()
