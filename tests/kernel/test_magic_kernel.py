"""``%ecovideo`` and ``%%ecovideo`` in a real ipykernel (``%load_ext eco_widget``).

Each cell's messages are read as a front end reads them: the widget's comm and its
``runs`` updates, the display, the streams and the execute reply (status and payload).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.kernel.conftest import Execution, KernelSession, WidgetLog

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def completed(run: dict[str, Any]) -> bool:
    return run["phase"] == "completed"


@pytest.fixture(scope="module")
def magic(kernel: KernelSession) -> KernelSession:
    """The module's kernel with the extension loaded."""
    cell = kernel.execute("%load_ext eco_widget")
    assert cell.stdout == cell.stderr == ""
    return kernel


def show(kernel: KernelSession, code: str) -> tuple[Execution, WidgetLog]:
    """Run a cell that shows one VideoWidget; check it is displayed once and that the
    cell has no result (the widget is not shown twice); return the cell and the widget."""
    cell = kernel.execute(code)
    opened = [c for c in cell.comm_opens if "runs" in c["data"].get("state", {})]
    assert len(opened) == 1, f"expected one VideoWidget comm, got {cell.comm_opens}"
    comm_id = opened[0]["comm_id"]
    views = [
        content
        for kind, parent, content in kernel.log
        if kind == "display_data"
        and parent == cell.msg_id
        and content["data"].get(WIDGET_VIEW, {}).get("model_id") == comm_id
    ]
    assert len(views) == 1
    assert cell.results == []
    assert cell.stderr == ""
    return cell, kernel.widgets[comm_id]


def test_line_magic_shows_a_widget_already_generating_the_prompt(magic: KernelSession):
    _, widget = show(magic, "%ecovideo -n 5 a red balloon")

    run = magic.wait_run(widget, "r1", completed, "to complete")
    assert run["prompt"] == "a red balloon"
    assert run["num_frames"] == 5
    assert widget.state["prompt"] == "a red balloon"
    assert run["video"]["size"] > 0
    assert len(widget.state["runs"]) == 1


def test_alone_it_shows_an_empty_form(magic: KernelSession):
    _, widget = show(magic, "%ecovideo")
    assert widget.state["runs"] == []
    assert widget.state["prompt"] == ""

    # Options without a prompt fill the form in; nothing is generated.
    _, widget = show(magic, "%ecovideo --fps 8 --seed 5")
    assert widget.state["runs"] == []
    assert (widget.state["fps"], widget.state["seed"]) == (8, 5)


def test_cell_magic_takes_the_body_as_the_prompt(magic: KernelSession):
    _, widget = show(magic, "%%ecovideo --frames 9\na lighthouse in a storm,\nseen from a boat\n")

    run = magic.wait_run(widget, "r1", completed, "to complete")
    assert run["prompt"] == "a lighthouse in a storm,\nseen from a boat"
    assert run["num_frames"] == 9


def test_every_option_reaches_the_run(magic: KernelSession):
    _, widget = show(
        magic,
        "%ecovideo -n 7 --fps 8 --steps 20 --guidance 4.5 --seed 1234 a paper airplane",
    )

    run = magic.wait_run(widget, "r1", completed, "to complete")
    assert {
        key: run[key]
        for key in ("prompt", "num_frames", "fps", "num_inference_steps", "guidance_scale", "seed")
    } == {
        "prompt": "a paper airplane",
        "num_frames": 7,
        "fps": 8,
        "num_inference_steps": 20,
        "guidance_scale": 4.5,
        "seed": 1234,
    }


def test_wait_returns_the_video(magic: KernelSession):
    cell, widget = show(
        magic, "v = %ecovideo --wait -n 5 --seed 3 a cat's hat\nprint(type(v).__name__, v.seed)"
    )

    assert cell.stdout == "Video 3\n"
    run = widget.run("r1")
    assert run is not None and completed(run)
    assert run["prompt"] == "a cat's hat"  # the apostrophe is a letter, not a quote
    # The widget showed live status while the cell waited.
    printed = magic.index("stream", cell.msg_id)
    assert magic.first_update(widget, lambda run: run["phase"] == "processing") < printed
    again = magic.execute("print(v.job.id, v.prompt)")
    assert again.stdout == f"{run['job_id']} a cat's hat\n"


def test_var_binds_the_video_when_it_is_done(magic: KernelSession):
    _, widget = show(magic, "%ecovideo --var myvid -n 5 --seed 11 a koi pond")

    run = magic.wait_run(widget, "r1", completed, "to complete")
    cell = magic.execute("print(type(myvid).__name__, myvid.seed, myvid.job.id)")
    assert cell.stdout == f"Video 11 {run['job_id']}\n"


def test_out_saves_the_file_when_it_is_done(magic: KernelSession):
    path = magic.tmp / "out" / "kite.mp4"
    _, widget = show(magic, f"%ecovideo --out '{path}' -n 5 a green kite")

    run = magic.wait_run(widget, "r1", completed, "to complete")
    cell = magic.execute(f"import os; print(os.path.getsize({str(path)!r}) > 0)")
    assert cell.stdout == "True\n"
    assert path.read_bytes() == open(run["video"]["saved_path"], "rb").read()  # noqa: SIM115


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--frames 100 x", "--frames must be an integer from 1 to 81; got 100."),
        ("-n abc x", "--frames must be an integer from 1 to 81; got 'abc'."),
        ("--guidance 25 x", "--guidance must be a number from 0 to 20; got 25"),
        ("--nope x", "unknown option --nope."),
        ("--var 1x x", "--var must be a Python name, like my_video; got '1x'."),
        ("--steps", "--steps needs a value: an integer from 20 to 80."),
    ],
)
def test_usage_errors_print_and_raise_nothing(magic: KernelSession, line: str, message: str):
    cell = magic.execute(f"%ecovideo {line}")

    assert cell.reply is not None and cell.reply["status"] == "ok"
    assert cell.errors == []
    assert cell.comm_opens == []  # no widget, so no job
    assert cell.results == []
    lines = cell.stderr.splitlines()
    assert lines[0].startswith("usage: %ecovideo [--frames N]")
    assert lines[-1].startswith("%ecovideo: error: " + message)
    assert len(lines) == 4  # the usage's two lines, its --resume line, the error


def test_cell_magic_usage_errors_too(magic: KernelSession):
    cell = magic.execute("%%ecovideo --seed -1\na red balloon\n")

    assert cell.reply is not None and cell.reply["status"] == "ok"
    assert cell.errors == cell.comm_opens == []
    assert cell.stderr.startswith("usage: %%ecovideo")
    assert cell.stderr.endswith(
        "%%ecovideo: error: --seed must be an integer from 0 to 4294967295; got -1.\n"
    )


def _page(cell: Execution) -> str:
    assert cell.reply is not None
    pages = [p for p in cell.reply.get("payload", []) if p.get("source") == "page"]
    assert len(pages) == 1, cell.reply
    return pages[0]["data"]["text/plain"]


OPTIONS = (
    "--frames",
    "-n",
    "--fps",
    "--steps",
    "--guidance",
    "--seed",
    "--out",
    "--wait",
    "--var",
    "--resume",
)


def test_question_mark_shows_the_help(magic: KernelSession):
    text = _page(magic.execute("%ecovideo?"))

    for option in OPTIONS:
        assert option in text
    assert "%%ecovideo" in text
    assert "Examples" in text
    assert "c.InteractiveShellApp.extensions" in text

    printed = magic.execute("%ecovideo -h")
    assert printed.comm_opens == []
    assert all(option in printed.stdout for option in OPTIONS)


def test_profile_config_loads_the_extension(make_kernel: Callable[..., KernelSession], tmp_path):
    """The documented auto-loading: ``c.InteractiveShellApp.extensions`` in a profile."""
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["eco_widget"]\n'
    )
    kernel = make_kernel(IPYTHONDIR=str(tmp_path / "ipython"))

    cell = kernel.execute("%ecovideo --frames 0 x")
    assert cell.stderr.endswith("--frames must be an integer from 1 to 81; got 0.\n")
