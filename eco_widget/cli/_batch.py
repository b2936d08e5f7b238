"""Reading an ``ecovideo batch`` file: one prompt per line, or one JSON object per line.

Every line is checked here, before anything is sent; a bad one is reported as
``FILE:LINE: what is wrong`` (naming the parameter) and nothing runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from .._exceptions import InvalidParameterError
from .._params import PARAMETERS, VideoParams
from ._errors import EXIT_USAGE, CLIError
from ._parser import PARAM_FLAGS

__all__ = ["DEFAULT_NAME", "BatchLine", "check_defaults", "output_template", "read_batch"]

#: The file name of each video when ``--out`` is a folder.
DEFAULT_NAME = "{index:03d}-{slug}-s{seed}.mp4"
_ACCEPTED = ", ".join(("prompt", *PARAMETERS))
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class BatchLine:
    """One item of the batch: where it was read (``prompts.txt:3``) and what it asks."""

    where: str
    item: dict[str, Any]


def _usage(message: str) -> CLIError:
    return CLIError(message, EXIT_USAGE)


def check_defaults(defaults: Mapping[str, Any]) -> None:
    """Refuse a bad parameter option (``--frames 100``) before reading the file."""
    try:
        VideoParams.create("defaults", **defaults)
    except InvalidParameterError as exc:
        flag = PARAM_FLAGS.get(exc.param)
        raise _usage(f"{flag}: {exc.message}" if flag else exc.message) from None


def _read_text(name: str, stdin: TextIO) -> tuple[str, str]:
    """The file's label and text (``-``: standard input)."""
    if name == "-":
        return "<stdin>", stdin.read()
    try:
        with open(name, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise _usage(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _usage(f"{name}:{line}: not UTF-8 text") from None


def _json_item(where: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _usage(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    if isinstance(value, str):
        return {"prompt": value}
    if not isinstance(value, dict):
        raise _usage(
            f"{where}: expected a JSON object such as "
            f'{{"prompt": "a red balloon", "num_frames": 33}}; got {type(value).__name__}'
        )
    unknown = sorted(set(value) - {"prompt", *PARAMETERS})
    if unknown:
        raise _usage(f"{where}: unknown parameter {unknown[0]!r}; accepted: {_ACCEPTED}")
    if "prompt" not in value:
        raise _usage(f'{where}: no prompt (each line needs a "prompt")')
    return value


def _checked(where: str, item: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **item}
    fields = {name: value for name, value in merged.items() if name != "prompt"}
    try:
        VideoParams.create(merged["prompt"], **fields)
    except InvalidParameterError as exc:
        raise _usage(f"{where}: {exc.message}") from None
    return merged


def read_batch(name: str, fmt: str, defaults: Mapping[str, Any], stdin: TextIO) -> list[BatchLine]:
    """The items of batch file ``name`` (``-``: ``stdin``) in ``fmt`` (``text``,
    ``jsonl`` or ``auto``), with ``defaults`` for the parameters a line does not set.

    Blank lines and lines starting with ``#`` are skipped. Raises :class:`CLIError`
    (exit status 2) naming the file, the line and the parameter of the first bad line.
    """
    label, text = _read_text(name, stdin)
    if fmt == "auto":
        fmt = "jsonl" if name.lower().endswith(_JSONL_SUFFIXES) else "text"
    lines: list[BatchLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{label}:{number}"
        item = _json_item(where, stripped) if fmt == "jsonl" else {"prompt": stripped}
        lines.append(BatchLine(where, _checked(where, item, defaults)))
    if not lines:
        raise _usage(f"{label} has no prompts (blank lines and # comments are skipped)")
    return lines


def output_template(out: str | None) -> str | None:
    """``--out`` as an absolute ``path_template``: a folder (``clips/``, or one that
    exists) gets :data:`DEFAULT_NAME`; ``None`` keeps the auto-save folder."""
    if out is None:
        return None
    template = os.path.expanduser(out)
    has_fields = "{" in template
    if not has_fields and (template.endswith(("/", os.sep)) or os.path.isdir(template)):
        template = os.path.join(template, DEFAULT_NAME)
    if not os.path.isabs(template):
        template = os.path.join(os.getcwd(), template)
    return template
