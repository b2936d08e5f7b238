"""The ``%ecovideo`` magic without a kernel: its parser, its messages, its help, and the
magic in an in-process IPython shell (no event loop running, as in terminal IPython).

The magic in a real kernel is tested in ``tests/kernel/test_magic_kernel.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eco_widget import PARAMETERS, Video
from eco_widget.cli._parser import PARAM_FLAGS
from eco_widget.notebook._magic import (
    FLAGS,
    MagicCommand,
    MagicUsageError,
    VideoMagics,
    build_parser,
    parse,
    split_words,
    usage,
)


@pytest.mark.parametrize(
    ("line", "prompt", "params"),
    [
        ("a red balloon", "a red balloon", {}),
        ("  a   red balloon  ", "a red balloon", {}),
        ('"a red balloon" --seed 2', "a red balloon", {"seed": 2}),
        ("a cat's hat", "a cat's hat", {}),
        ("the cat's toy and the dog's bone", "the cat's toy and the dog's bone", {}),
        ("'tis a 'quoted' word", "'tis a quoted word", {}),
        ("a kite --seed 9", "a kite", {"seed": 9}),
        ("a --seed 9 kite", "a kite", {"seed": 9}),
        ("-n 5 --fps 8 x", "x", {"num_frames": 5, "fps": 8}),
        ("--frames=9 x", "x", {"num_frames": 9}),
        ("--steps 20 --guidance 4.5 x", "x", {"num_inference_steps": 20, "guidance_scale": 4.5}),
        ("--guidance 0 x", "x", {"guidance_scale": 0.0}),
        ("--seed 4294967295 x", "x", {"seed": 2**32 - 1}),
        ("-5 degrees of frost", "-5 degrees of frost", {}),
        ("--seed 1 -- --frames is a word here", "--frames is a word here", {"seed": 1}),
        ("", "", {}),
        ("--fps 8", "", {"fps": 8}),
    ],
)
def test_line_prompts_and_options(line, prompt, params):
    command = parse(line)
    assert command == MagicCommand(prompt=prompt, params=params)


def test_the_cell_body_is_the_prompt():
    body = "    a lighthouse in a storm,\n      seen from a boat\n\n"
    command = parse("--frames 9 --wait", body)
    assert command.prompt == "a lighthouse in a storm,\n  seen from a boat"
    assert command.params == {"num_frames": 9}
    assert command.wait
    assert parse("", "\n  \n") == MagicCommand(prompt="")  # an empty body: the form


def test_out_and_var(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = parse("--out clips/kite.mp4 --var my_kite a kite")
    assert command.out == tmp_path / "clips" / "kite.mp4"
    assert command.var == "my_kite"
    assert parse("--out '~/my clips' x").out == Path("~/my clips").expanduser()
    assert parse("--out='a b.mp4' x").out == tmp_path / "a b.mp4"
    assert not command.out_is_folder
    assert parse("--out clips/ x").out_is_folder
    # Without a prompt they apply to the first video made from the form.
    assert parse("--var v").var == "v"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--frames 100 x", "--frames must be an integer from 1 to 81; got 100."),
        ("-n 0 x", "--frames must be an integer from 1 to 81; got 0."),
        ("--frames abc x", "--frames must be an integer from 1 to 81; got 'abc'."),
        ("--frames 9.0 x", "--frames must be an integer from 1 to 81; got '9.0'."),
        ("--fps 61 x", "--fps must be an integer from 1 to 60; got 61."),
        ("--steps 19 x", "--steps must be an integer from 20 to 80; got 19."),
        ("--guidance 25 x", "--guidance must be a number from 0 to 20; got 25.0."),
        ("--guidance nan x", "--guidance must be a number from 0 to 20; got nan."),
        ("--guidance much x", "--guidance must be a number from 0 to 20; got 'much'."),
        ("--seed -1 x", "--seed must be an integer from 0 to 4294967295; got -1."),
        ("--frames 100", "--frames must be an integer from 1 to 81; got 100."),
        ("--frames", "--frames needs a value: an integer from 1 to 81."),
        ("x --out", "--out needs a value: a file or folder PATH."),
        ("x --var", "--var needs a value: a Python NAME."),
        ("--var 1x x", "--var must be a Python name, like my_video; got '1x'."),
        ("--var class x", "--var must be a Python name, like my_video; got 'class'."),
        ("--wait", "--wait needs a PROMPT to make a video of."),
        ("--wait=yes x", "--wait takes no value; got 'yes'."),
        ("--nope x", "unknown option --nope."),
        ("--frame 9 x", "unknown option --frame. Did you mean --frames?"),
        ("--Seed=3 x", "unknown option --Seed. Did you mean --seed?"),
        ("x" * 2001, "prompt has 2001 characters"),
    ],
)
def test_usage_errors_name_the_option_and_what_it_accepts(line, message):
    with pytest.raises(MagicUsageError) as caught:
        parse(line)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_words_on_the_cell_magic_line_are_an_error():
    with pytest.raises(MagicUsageError, match="takes the prompt from the cell's body"):
        parse("--seed 3 a red", "balloon\n")


def test_split_words_keeps_apostrophes_and_backslashes():
    assert split_words("a cat's \"big hat\" 'x y'") == ["a", "cat's", "big hat", "x y"]
    assert split_words(r"--out C:\videos\a.mp4") == ["--out", r"C:\videos\a.mp4"]
    assert split_words('"unclosed quote') == ['"unclosed', "quote"]


def test_the_options_have_the_command_line_names():
    assert {name: flags[0] for name, flags in FLAGS.items()} == PARAM_FLAGS
    assert set(FLAGS) == set(PARAMETERS)


def test_usage_and_help():
    assert usage() == (
        "usage: %ecovideo [--frames N] [--fps N] [--steps N] [--guidance X] [--seed N]\n"
        "                 [--out PATH] [--wait] [--var NAME] [PROMPT ...]\n"
        "       %ecovideo --resume"
    )
    assert usage("%%ecovideo").splitlines()[-1].strip().startswith("PROMPT (the cell's body")
    assert "--resume" not in usage("%%ecovideo")
    text = VideoMagics.ecovideo.__doc__
    assert text == build_parser().format_help()
    for flag in ("--frames", "-n", "--fps", "--steps", "--guidance", "--seed"):
        assert flag in text
    for option in ("--out PATH", "--wait", "--var NAME", "--resume", "%%ecovideo", "Examples:"):
        assert option in text
    assert "1 to 81, default 33" in text
    assert 'c.InteractiveShellApp.extensions = ["eco_widget"]' in text


# -- the magic in an in-process shell ----------------------------------------------------


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A plain IPython shell with the extension loaded; no loop runs between cells."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("ECOHASH_BASE_URL", "sandbox")
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "eco_widget")
    yield shell
    InteractiveShell.clear_instance()


def test_usage_errors_print_and_return_none_before_any_widget(shell, monkeypatch, capsys):
    import eco_widget.notebook._magic as magic

    started = []
    monkeypatch.setattr(magic, "run", lambda *args: started.append(args))

    assert shell.run_line_magic("ecovideo", "--frames 100 a red balloon") is None
    assert shell.run_cell_magic("ecovideo", "--guidance -1", "a red balloon\n") is None

    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: %ecovideo [--frames N]")
    assert err[2] == "       %ecovideo --resume"
    assert err[3] == "%ecovideo: error: --frames must be an integer from 1 to 81; got 100."
    assert err[4].startswith("usage: %%ecovideo")
    assert err[-1] == "%%ecovideo: error: --guidance must be a number from 0 to 20; got -1.0."
    assert started == []


def test_help_option_prints_the_help(shell, capsys):
    assert shell.run_line_magic("ecovideo", "-h") is None
    assert capsys.readouterr().out == VideoMagics.ecovideo.__doc__


def test_without_a_running_loop_the_magic_waits(shell, tmp_path):
    out = tmp_path / "out" / "hat.mp4"
    video = shell.run_line_magic("ecovideo", f"--wait -n 1 --seed 3 --out {out} --var v a hat")
    assert isinstance(video, Video)
    assert (video.seed, video.prompt) == (3, "a hat")
    assert shell.user_ns["v"] is video
    assert out.read_bytes() == video.data

    # Without --wait too (nothing else would run the job), returning nothing; an --out
    # ending with a slash is a folder, made when the video is done.
    folder = tmp_path / "clips"
    assert shell.run_line_magic("ecovideo", f"--var later --out {folder}/ -n 1 a boat") is None
    later = shell.user_ns["later"]
    assert isinstance(later, Video)
    assert [p.name for p in folder.iterdir()] == [f"a-boat-s{later.seed}.mp4"]


def test_unload_removes_the_magics(shell):
    assert "ecovideo" in shell.magics_manager.magics["line"]
    assert "ecovideo" in shell.magics_manager.magics["cell"]
    shell.run_line_magic("unload_ext", "eco_widget")
    assert "ecovideo" not in shell.magics_manager.magics["line"]
    assert "ecovideo" not in shell.magics_manager.magics["cell"]
    shell.run_line_magic("load_ext", "eco_widget")
    assert "ecovideo" in shell.magics_manager.magics["line"]


# -- --resume --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "--resume a red balloon",
            "--resume takes no PROMPT: it follows the jobs an earlier session left "
            "unfinished; got 'a red balloon'.",
        ),
        (
            "--resume -n 5",
            "--resume takes no other option (got --frames): the jobs keep the parameters "
            "they were submitted with.",
        ),
        (
            "--wait --resume",
            "--resume takes no other option (got --wait): the jobs keep "
            "the parameters they were submitted with.",
        ),
        (
            "--resume --var v",
            "--resume takes no other option (got --var): the jobs keep "
            "the parameters they were submitted with.",
        ),
        ("--resume=1", "--resume takes no value; got '1'."),
        (
            "--resum",
            "unknown option --resum. Did you mean --resume? The options are "
            "-n/--frames, --fps, --steps, --guidance, --seed, --out, --wait, --var and "
            "--resume; put -- before a prompt that starts with -.",
        ),
    ],
)
def test_resume_takes_nothing_else(line, message):
    with pytest.raises(MagicUsageError) as caught:
        parse(line)
    assert str(caught.value) == message


def test_resume_parses_alone_and_not_in_the_cell_magic():
    assert parse("--resume") == MagicCommand(prompt="", resume=True)
    with pytest.raises(MagicUsageError, match="--resume is for the line magic"):
        parse("--resume", "a body\n")


def test_bad_resume_input_prints_one_line_and_sends_nothing(shell, monkeypatch, capsys):
    import eco_widget.notebook._magic as magic

    started = []
    monkeypatch.setattr(magic, "run", lambda *args: started.append(args))
    assert shell.run_line_magic("ecovideo", "--resume --seed 3") is None
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "%ecovideo: error: --resume takes no other option (got --seed): the jobs keep the "
        "parameters they were submitted with."
    )
    assert started == []


def test_resume_with_nothing_pending_says_so(shell, capsys):
    assert shell.run_line_magic("ecovideo", "--resume") is None
    captured = capsys.readouterr()
    assert captured.out == (
        "%ecovideo --resume: nothing to resume; no job from an earlier session is pending.\n"
    )
    assert captured.err == ""


def test_resume_without_a_key_says_why(shell, monkeypatch, capsys):
    monkeypatch.delenv("ECOHASH_BASE_URL")
    assert shell.run_line_magic("ecovideo", "--resume") is None
    err = capsys.readouterr().err
    assert err.startswith("%ecovideo --resume: No API key for https://api.ecohash.com.")


def test_resume_follows_the_pending_jobs_to_their_videos(shell, monkeypatch, capsys):

    from eco_widget import Client, _journal, _journal_entry

    with Client(base_url="sandbox") as earlier:
        job = earlier.submit("left behind", num_frames=1, seed=4)
        origin = earlier._settings.origin
        journal = earlier.journal
    session = f"{_journal.session_id()}-restarted"  # as a restarted kernel's
    monkeypatch.setattr(_journal, "session_id", lambda: session)
    monkeypatch.setattr(_journal_entry, "session_id", lambda: session)

    assert shell.run_line_magic("ecovideo", "--resume") is None

    entry = journal.get(origin, job.id)
    assert entry.is_saved and Path(entry.saved_path).name.startswith("left-behind-s4")
    assert "VideoWidget(prompt=" in capsys.readouterr().out  # the widget was shown
    shell.run_line_magic("ecovideo", "--resume")
    assert "nothing to resume" in capsys.readouterr().out
