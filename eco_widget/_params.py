"""Generation parameters: defaults, accepted ranges and validation.

One set of rules serves both halves of the project: the clients validate with it before
sending anything, and the local server validates request bodies with it, so a message
seen in Python is the message the server would have sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from ._exceptions import InvalidParameterError

__all__ = [
    "MODEL",
    "PARAMETERS",
    "ParamSpec",
    "VideoParams",
    "random_seed",
    "validate_body",
]

MODEL = "wan21-t2v-1-3b"
PROMPT_MAX_CHARS = 2000
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class ParamSpec:
    """What one numeric parameter accepts."""

    name: str
    kind: type  # int or float
    default: int | float | None
    minimum: int | float
    maximum: int | float
    help: str

    @property
    def accepted(self) -> str:
        if self.kind is int:
            return f"an integer from {self.minimum} to {self.maximum}"
        return f"a number from {self.minimum:g} to {self.maximum:g}"

    def check(self, value: object) -> int | float:
        """Return ``value`` if it is accepted, else raise :class:`InvalidParameterError`."""
        if self.kind is int:
            # Booleans are ints in Python but not in the contract; floats are never ints.
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidParameterError(
                    self.name, value, self.accepted, _type_message(self.name, value, self.accepted)
                )
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidParameterError(
                    self.name, value, self.accepted, _type_message(self.name, value, self.accepted)
                )
            if not math.isfinite(value):
                raise self._out_of_range(value)
        if not self.minimum <= value <= self.maximum:
            raise self._out_of_range(value)
        return value

    def _out_of_range(self, value: Any) -> InvalidParameterError:
        message = f"{self.name} must be {self.accepted}; got {_short(value)}."
        return InvalidParameterError(self.name, value, self.accepted, message)


PARAMETERS: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        ParamSpec("num_frames", int, 33, 1, 81, "frames to generate (33 at 16 fps ≈ 2 s)"),
        ParamSpec("fps", int, 16, 1, 60, "playback frame rate"),
        ParamSpec("num_inference_steps", int, 50, 20, 80, "more steps: better, slower"),
        ParamSpec("guidance_scale", float, 5.0, 0.0, 20.0, "how literally to follow the prompt"),
        ParamSpec("seed", int, None, 0, SEED_MAX, "same seed and parameters, same video"),
    )
}

_FIELDS = ("model", "prompt", *PARAMETERS)


def _type_message(name: str, value: Any, accepted: str) -> str:
    kind = "a boolean" if isinstance(value, bool) else f"of type {type(value).__name__}"
    return f"{name} must be {accepted}; got {_short(value)}, which is {kind}."


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to write out (Python's 4300-digit limit)
        return "an integer too large to show"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unpaired_surrogate(text: str) -> tuple[int, int] | None:
    """The first surrogate of ``text`` that is not the high half of a UTF-16 pair
    followed by its low half: its index, and its number as a character once pairs are
    joined (as the server counts it). ``None`` when there is none."""
    index = number = 0
    while index < len(text):
        code = ord(text[index])
        number += 1
        if 0xD800 <= code <= 0xDBFF and "\udc00" <= text[index + 1 : index + 2] <= "\udfff":
            index += 2
            continue
        if 0xD800 <= code <= 0xDFFF:
            return index, number
        index += 1
    return None


def _as_text(prompt: str, accepted: str) -> str:
    """``prompt`` as Unicode text: surrogate pairs joined into their character (as a
    JSON ``"\\ud83d\\ude00"`` escape reads), an unpaired surrogate refused.

    An unpaired surrogate comes from a JSON ``"\\ud800"`` escape, or from the bytes of a
    shell argument or file that are not UTF-8 (Python's ``surrogateescape`` turns byte
    ``0xFF`` into U+DCFF). No such text can be encoded, sent or stored.
    """
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return prompt  # the common case: no surrogate at all
    unpaired = _unpaired_surrogate(prompt)
    if unpaired is None:
        return prompt.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    index, number = unpaired
    code = ord(prompt[index])
    origin = ""
    if 0xDC80 <= code <= 0xDCFF:
        origin = f", which stands for the byte 0x{code - 0xDC00:02X} of a text not in UTF-8"
    raise InvalidParameterError(
        "prompt",
        prompt,
        accepted,
        f"prompt is not valid Unicode text: character {number} is an unpaired "
        f"surrogate (U+{code:04X}{origin}); it must be {accepted}, without unpaired "
        "surrogates.",
    )


def check_prompt(prompt: object) -> str:
    """Return ``prompt`` if it is Unicode text of 1–2000 characters once stripped,
    with any UTF-16 surrogate pair joined into its character. An unpaired surrogate
    is refused."""
    accepted = f"a text of 1 to {PROMPT_MAX_CHARS} characters (not counting outer whitespace)"
    if not isinstance(prompt, str):
        raise InvalidParameterError(
            "prompt", prompt, accepted, f"prompt must be {accepted}; got {type(prompt).__name__}."
        )
    prompt = _as_text(prompt, accepted)
    length = len(prompt.strip())
    if length == 0:
        raise InvalidParameterError(
            "prompt", prompt, accepted, f"prompt is empty: it must be {accepted}."
        )
    if length > PROMPT_MAX_CHARS:
        raise InvalidParameterError(
            "prompt",
            prompt,
            accepted,
            f"prompt has {length} characters: it must be {accepted}.",
        )
    return prompt


def random_seed() -> int:
    """A seed drawn uniformly from the accepted range."""
    import secrets

    return secrets.randbelow(SEED_MAX + 1)


@dataclass(frozen=True)
class VideoParams:
    """The parameters of one generation, validated.

    Build it with :meth:`create` (from keyword arguments, as users call it) or
    :func:`validate_body` (from a JSON body, as the server receives it).
    """

    prompt: str
    num_frames: int = 33
    fps: int = 16
    num_inference_steps: int = 50
    guidance_scale: float = 5.0
    seed: int | None = None
    model: str = MODEL

    @classmethod
    def create(
        cls,
        prompt: str,
        *,
        num_frames: int = 33,
        fps: int = 16,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        seed: int | None = None,
    ) -> VideoParams:
        """Validate keyword arguments; raises :class:`InvalidParameterError`."""
        body: dict[str, Any] = {
            "model": MODEL,
            "prompt": prompt,
            "num_frames": num_frames,
            "fps": fps,
            "num_inference_steps": num_inference_steps,
            "guidance_scale": guidance_scale,
        }
        if seed is not None:
            body["seed"] = seed
        return validate_body(body)

    @property
    def duration_seconds(self) -> float:
        """Length of the video: ``num_frames / fps`` (what is billed)."""
        return self.num_frames / self.fps

    def with_seed(self) -> VideoParams:
        """These parameters with a seed: the given one, or a freshly drawn one."""
        return self if self.seed is not None else replace(self, seed=random_seed())

    def to_body(self) -> dict[str, Any]:
        """The JSON body of a submit request (``seed`` omitted when unset)."""
        body = asdict(self)
        for name, spec in PARAMETERS.items():
            if body[name] is None:  # the seed, when unset: the server draws one
                del body[name]
            elif spec.kind is float:
                body[name] = float(body[name])
        return {key: body[key] for key in _FIELDS if key in body}


def validate_body(body: Any) -> VideoParams:
    """Validate a submit body (a decoded JSON object) and return its parameters.

    Applies the contract: ``model`` and ``prompt`` are required, unknown fields are
    rejected, booleans are not integers, floats are not integers, every range holds.
    Raises :class:`InvalidParameterError` naming the first parameter at fault.
    """
    if not isinstance(body, Mapping):
        raise InvalidParameterError(
            "body", body, "a JSON object", "The request body must be a JSON object."
        )
    unknown = sorted((key for key in body if key not in _FIELDS), key=str)
    if unknown:
        accepted = "one of " + ", ".join(_FIELDS)
        name = str(unknown[0])
        raise InvalidParameterError(
            name,
            body[unknown[0]],
            accepted,
            f"Unknown parameter {_short(name)}: accepted parameters are {', '.join(_FIELDS)}.",
        )
    for required in ("model", "prompt"):
        if required not in body:
            raise InvalidParameterError(
                required, None, "required", f"Missing required parameter {required!r}."
            )
    if body["model"] != MODEL:
        raise InvalidParameterError(
            "model",
            body["model"],
            f'"{MODEL}"',
            f'model must be "{MODEL}"; got {_short(body["model"])}.',
        )
    prompt = check_prompt(body["prompt"])
    values: dict[str, Any] = {}
    for name, spec in PARAMETERS.items():
        value = body.get(name)
        if value is None:
            if name in body and spec.default is not None:  # only the seed may be null
                raise InvalidParameterError(name, None, spec.accepted)
            value = spec.default
        else:
            value = spec.kind(spec.check(value))  # an integer guidance_scale: a float
        values[name] = value
    return VideoParams(prompt=prompt, **values)
