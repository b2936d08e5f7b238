"""The command line of ``%ecovideo`` and ``%%ecovideo``: options, usage and help, and
the checks that turn a line (and a cell's body) into a :class:`MagicCommand`. A bad
option raises :class:`MagicUsageError` with one line naming it and what it accepts."""

from __future__ import annotations

import argparse
import difflib
import keyword
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from .._exceptions import InvalidParameterError
from .._params import PARAMETERS, VideoParams

__all__ = [
    "FLAGS",
    "MAGIC",
    "HelpShown",
    "MagicCommand",
    "MagicUsageError",
    "build_parser",
    "help_text",
    "parse",
    "split_words",
    "usage",
]

MAGIC = "ecovideo"

#: The options of the generation parameters, by parameter name (one per entry of
#: ``PARAMETERS``): the ``ecovideo`` command's names
#: (``eco_widget.cli._parser.PARAM_FLAGS``), first; then the short aliases.
FLAGS: dict[str, tuple[str, ...]] = {
    "num_frames": ("--frames", "-n"),
    "fps": ("--fps",),
    "num_inference_steps": ("--steps",),
    "guidance_scale": ("--guidance",),
    "seed": ("--seed",),
}

#: What the other options take, for "needs a value" messages.
_VALUES = {"--out": "a file or folder PATH", "--var": "a Python NAME"}

# A token: a quoted string, or a run of non-blanks. A quote opens only at the start of a
# word (or after ``--option=``) and closes only at the end of one, with no word opening
# with the same quote in between: the apostrophes of "the cat's toy and the dog's bone"
# and "'tis" are letters.
_TOKEN = re.compile(
    r"""(?P<pre>--?[A-Za-z][\w-]*=)?(?P<q>["'])(?P<quoted>(?:(?!\s(?P=q)).)*?)(?P=q)(?=\s|$)"""
    r"""|(?P<word>\S+)""",
    re.DOTALL,
)


class MagicUsageError(Exception):
    """A bad option or value: the message is the one line shown under the usage."""


class HelpShown(Exception):
    """``-h`` printed the help."""


@dataclass
class MagicCommand:
    """One ``%ecovideo`` call, checked."""

    prompt: str
    #: The generation parameters given, converted and valid (by parameter name).
    params: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    #: ``--out`` ended with a slash: a folder to put the video in, made when needed.
    out_is_folder: bool = False
    wait: bool = False
    var: str | None = None
    #: Follow the jobs an earlier session left unfinished instead of generating.
    resume: bool = False


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise MagicUsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message, file=sys.stderr, end="")
        raise HelpShown

    def format_help(self) -> str:
        return _INTRO + super().format_help() + _EXAMPLES


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _metavar(name: str) -> str:
    return "N" if PARAMETERS[name].kind is int else "X"


def build_parser(prog: str = f"%{MAGIC}") -> argparse.ArgumentParser:
    """The magic's argument parser (values stay text: :func:`parse` converts them)."""
    parser = _Parser(
        prog=prog,
        # argparse %-formats a usage it is given, and the prog has a "%" in it.
        usage=usage(prog).removeprefix("usage: ").replace("%", "%%"),
        add_help=False,
        allow_abbrev=False,
        exit_on_error=False,
        formatter_class=lambda prog: argparse.HelpFormatter(prog, width=88),
    )
    parser.add_argument("-h", "--help", action="help", help="show this help")
    parser.add_argument("prompt", nargs="*", metavar="PROMPT", help="the prompt (quotes optional)")
    for name, flags in FLAGS.items():
        spec = PARAMETERS[name]
        default = "random" if spec.default is None else _number(spec.default)
        parser.add_argument(
            *flags,
            dest=name,
            metavar=_metavar(name),
            help=f"{spec.help}; {_number(spec.minimum)} to {_number(spec.maximum)}, "
            f"default {default}",
        )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="save the video there when done (a file, or a folder to put it in)",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="block until the video is done and return it: v = %%ecovideo --wait …",
    )
    parser.add_argument(
        "--var",
        metavar="NAME",
        help="set the variable NAME to the Video when done (without waiting)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="follow the jobs an earlier session left unfinished to their videos "
        "(takes no PROMPT and no other option)",
    )
    return parser


def usage(prog: str = f"%{MAGIC}") -> str:
    """The usage lines of the line magic (``%ecovideo``) or the cell magic
    (``%%ecovideo``)."""
    indent = " " * len(f"usage: {prog} ")
    options = " ".join(f"[{flags[0]} {_metavar(name)}]" for name, flags in FLAGS.items())
    text = f"usage: {prog} {options}\n{indent}[--out PATH] [--wait] [--var NAME]"
    resume = f"\n       {prog} --resume"
    if prog.startswith("%%"):
        return f"{text}\n{indent}PROMPT (the cell's body, on the lines below)"
    return f"{text} [PROMPT ...]{resume}"


def split_words(line: str) -> list[str]:
    """Split an option line into words, like a shell for quoted words
    (``"a red balloon"``, ``--out 'my file.mp4'``) but keeping apostrophes inside words
    (``a cat's hat``) and backslashes (``C:\\videos``) as they are."""
    words = []
    for match in _TOKEN.finditer(line):
        if match.group("word") is not None:
            words.append(match.group("word"))
        else:
            words.append((match.group("pre") or "") + match.group("quoted"))
    return words


def _option_names() -> list[str]:
    names = [flag for flags in FLAGS.values() for flag in flags]
    return [*names, "--out", "--wait", "--var", "--resume", "--help", "-h"]


def _unknown_option(word: str) -> MagicUsageError:
    option = word.split("=", 1)[0]
    close = difflib.get_close_matches(option, _option_names(), n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    accepted = ", ".join("/".join((*flags[1:], flags[0])) for flags in FLAGS.values())
    return MagicUsageError(
        f"unknown option {option}.{hint} The options are {accepted}, --out, --wait, --var "
        "and --resume; put -- before a prompt that starts with -."
    )


def _argument_error(error: argparse.ArgumentError) -> MagicUsageError:
    names = (error.argument_name or "").split("/")
    for name, flags in FLAGS.items():
        if set(flags) & set(names):
            return MagicUsageError(f"{flags[0]} needs a value: {PARAMETERS[name].accepted}.")
    for option, what in _VALUES.items():
        if option in names:
            return MagicUsageError(f"{option} needs a value: {what}.")
    name = error.argument_name or "argument"
    if error.message.startswith("ignored explicit argument"):
        return MagicUsageError(f"{name} takes no value; got {error.message.split()[-1]}.")
    return MagicUsageError(f"{name}: {error.message}")


def _flag_message(exc: InvalidParameterError) -> str:
    """The library's message with the parameter's option instead of its name:
    ``--frames must be an integer from 1 to 81; got 100.``"""
    flags = FLAGS.get(exc.param)
    if flags and exc.message.startswith(exc.param):
        return flags[0] + exc.message[len(exc.param) :]
    return exc.message


def parse(line: str, cell: str | None = None) -> MagicCommand:
    """Check one call: ``line`` is what follows ``%ecovideo`` (or ``%%ecovideo``),
    ``cell`` the cell's body for the cell magic. Raises :class:`MagicUsageError`
    naming the option at fault and what it accepts."""
    prog = f"%%{MAGIC}" if cell is not None else f"%{MAGIC}"
    parser = build_parser(prog)
    words = split_words(line)
    # After "--" every word is the prompt's (argparse's intermixed parsing loses it).
    tail: list[str] = []
    if "--" in words:
        cut = words.index("--")
        words, tail = words[:cut], words[cut + 1 :]
    try:
        args, extra = parser.parse_known_intermixed_args(words)
    except argparse.ArgumentError as exc:
        raise _argument_error(exc) from None
    if extra:
        raise _unknown_option(extra[0])

    words = [*args.prompt, *tail]
    if args.resume:
        return _resume_command(args, words, cell)
    if cell is not None:
        if words:
            raise MagicUsageError(
                f"%%{MAGIC} takes the prompt from the cell's body; "
                f"got words on its first line too: {' '.join(words)!r}."
            )
        prompt = textwrap.dedent(cell).strip()
    else:
        prompt = " ".join(words)

    params: dict[str, Any] = {}
    for name, flags in FLAGS.items():
        text = getattr(args, name)
        if text is None:
            continue
        spec = PARAMETERS[name]
        try:
            params[name] = spec.kind(text)
        except ValueError:
            raise MagicUsageError(f"{flags[0]} must be {spec.accepted}; got {text!r}.") from None
    try:
        if prompt:
            VideoParams.create(prompt, **params)
        else:
            for name, value in params.items():
                PARAMETERS[name].check(value)
    except InvalidParameterError as exc:
        raise MagicUsageError(_flag_message(exc)) from None

    var = args.var
    if var is not None and (not var.isidentifier() or keyword.iskeyword(var)):
        raise MagicUsageError(f"--var must be a Python name, like my_video; got {var!r}.")
    out = None
    if args.out is not None:
        if not args.out.strip():
            raise MagicUsageError("--out needs a value: a file or folder PATH.")
        out = Path(args.out).expanduser().absolute()
    if args.wait and not prompt:
        raise MagicUsageError("--wait needs a PROMPT to make a video of.")
    return MagicCommand(
        prompt=prompt,
        params=params,
        out=out,
        out_is_folder=args.out is not None and args.out.endswith(("/", os.sep)),
        wait=args.wait,
        var=var,
    )


def _resume_command(args: argparse.Namespace, words: list[str], cell: str | None) -> MagicCommand:
    """``--resume`` alone: it takes the jobs as they were submitted."""
    if cell is not None:
        raise MagicUsageError(f"--resume is for the line magic: %{MAGIC} --resume.")
    if words:
        raise MagicUsageError(
            "--resume takes no PROMPT: it follows the jobs an earlier session left "
            f"unfinished; got {' '.join(words)!r}."
        )
    given = [flags[0] for name, flags in FLAGS.items() if getattr(args, name) is not None]
    given += [option for option in ("--out", "--var") if getattr(args, option[2:]) is not None]
    given += ["--wait"] if args.wait else []
    if given:
        raise MagicUsageError(
            f"--resume takes no other option (got {given[0]}): the jobs keep the "
            "parameters they were submitted with."
        )
    return MagicCommand(prompt="", resume=True)


_INTRO = """\
Make a short video from text, showing the widget while it renders.

  %ecovideo [options] PROMPT     a VideoWidget already generating PROMPT
  %%ecovideo [options]           the same, with the cell's body as the prompt
  %ecovideo                      an empty form (options fill it in)
  %ecovideo --resume             follow the jobs an earlier session left unfinished

Words of PROMPT are joined with spaces; quotes are optional ("a cat's hat" and
a cat's hat both work). The line is expanded like every line magic's: {expr} and
$name insert Python values ($$ and {{ }} for the characters themselves); the body
of %%ecovideo is taken as it is. Bad options print a usage line and what is
accepted, and nothing is started. Options may come before or after the prompt.

"""

_EXAMPLES = """
Examples:

  %load_ext eco_widget
  %ecovideo a red balloon floating over a mountain at dawn
  %ecovideo -n 49 --fps 16 --steps 30 --seed 1234 a paper airplane in a library
  v = %ecovideo --wait --out balloon.mp4 a red balloon at dawn
  %ecovideo --var clip a koi pond in the rain      # clip is set once it is done

  %%ecovideo --frames 81 --guidance 6
  A slow dolly shot through a misty bamboo forest,
  morning light, a red lantern swaying.

Load it in every session: c.InteractiveShellApp.extensions = ["eco_widget"] in
the profile's ipython_config.py (ipython profile create makes one).
"""


def help_text() -> str:
    """The magic's help (``%ecovideo?``)."""
    return build_parser().format_help()
