"""The widget's form as Python describes it: the limits the front end enforces as you
type, and the checks of a widget's options before anything is shown or sent."""

from __future__ import annotations

import difflib
from typing import Any

from .._exceptions import InvalidParameterError
from .._params import PARAMETERS, PROMPT_MAX_CHARS, check_prompt
from ._words import PENDING_STATUS_WORDS, PHASE_WORDS, TALLY_WORDS

__all__ = ["FORM_FIELDS", "OPTIONS", "check_options", "form_limits", "unknown_options"]

FORM_FIELDS = ("prompt", *PARAMETERS)
OPTIONS = (*FORM_FIELDS, "client", "timeout")
#: What the form and a sweep's headers call each parameter.
PARAM_LABELS = {
    "num_frames": "Frames",
    "fps": "FPS",
    "num_inference_steps": "Steps",
    "guidance_scale": "Guidance",
    "seed": "Seed",
}
#: The step of a float parameter's input (its arrows; any value in range is accepted).
_FLOAT_STEP = 0.1


def form_limits() -> dict[str, Any]:
    """The ``limits`` trait: everything the front end shows or enforces about the form and
    the runs, none of it repeated in widget.js (static/PROTOCOL.md describes it).

    Each parameter of :data:`PARAMETERS`: its range, step, default, kind, label and help;
    ``prompt``: its longest length; ``phases``, ``tallies`` and ``pending_statuses``: the
    words for a run's phases, a gallery's counts and a pending job's status."""
    limits: dict[str, Any] = {
        name: {
            "min": spec.minimum,
            "max": spec.maximum,
            "step": 1 if spec.kind is int else _FLOAT_STEP,
            "default": spec.default,
            "kind": "int" if spec.kind is int else "float",
            "label": PARAM_LABELS[name],
            "help": spec.help,
        }
        for name, spec in PARAMETERS.items()
    }
    limits["prompt"] = {"max_chars": PROMPT_MAX_CHARS}
    limits["phases"] = dict(PHASE_WORDS)
    limits["tallies"] = dict(TALLY_WORDS)
    limits["pending_statuses"] = dict(PENDING_STATUS_WORDS)
    return limits


def check_options(
    owner: str, prompt: Any, values: dict[str, Any], client: Any, unknown: dict[str, Any]
) -> None:
    """Refuse unknown options (``TypeError`` suggesting the right name), a client that
    is not an :class:`AsyncClient`, and out-of-range values
    (:class:`InvalidParameterError`). A blank prompt is accepted: the form starts
    empty."""
    from .._async_client import AsyncClient

    if unknown:
        raise unknown_options(owner, unknown)
    if client is not None and not isinstance(client, AsyncClient):
        raise TypeError(
            f"client must be an eco_widget.AsyncClient; got {type(client).__name__} "
            "(the widget runs its jobs on the kernel's event loop)"
        )
    if not isinstance(prompt, str):
        raise InvalidParameterError("prompt", prompt, "a text")
    if prompt.strip():
        check_prompt(prompt)
    for name, value in values.items():
        if value is not None or name != "seed":
            PARAMETERS[name].check(value)


def unknown_options(owner: str, unknown: dict[str, Any]) -> TypeError:
    """The error for options a widget does not take, with the closest accepted name."""
    name = sorted(unknown)[0]
    close = difflib.get_close_matches(name, OPTIONS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return TypeError(
        f"{owner} got an unexpected option {name!r}.{hint} Accepted: {', '.join(OPTIONS)}."
    )
