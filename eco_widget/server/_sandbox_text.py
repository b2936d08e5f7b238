"""The text written on every sandbox frame: the prompt, and a label saying whose video
this is (seed, "not model output"). Drawn once per video with Pillow, as RGBA."""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["text_overlay"]

_ELLIPSIS = "…"
_PROMPT_LINES = 3


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels."""
    return ImageFont.load_default(size=size)


def _metrics(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> tuple[int, int]:
    """Ascent and descent in pixels. A Pillow built without FreeType gives a bitmap font,
    which has no metrics: its line is as tall as its tallest glyph box."""
    if isinstance(font, ImageFont.FreeTypeFont):
        return font.getmetrics()
    return round(font.getbbox("Ag")[3]), 0


def _fit(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, limit: float) -> int:
    """How many leading characters of ``text`` fit in ``limit`` pixels (at least one)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _ellipsize(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, limit: float) -> str:
    """``text`` cut short enough to end with "…" within ``limit`` pixels."""
    kept = _fit(text + _ELLIPSIS, font, limit)
    return text[: max(kept - 1, 0)].rstrip() + _ELLIPSIS


def _wrap_text(
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    limit: float,
    max_lines: int,
) -> list[str]:
    """Greedy word wrap of ``text`` into at most ``max_lines`` lines of ``limit`` pixels.

    Whitespace runs collapse to one space; a word wider than a line is split; text that
    does not fit ends the last line with "…".
    """
    lines: list[str] = []
    current = ""
    truncated = False
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= limit:
            current = candidate
            continue
        if current:
            lines.append(current)
        while font.getlength(word) > limit:
            cut = _fit(word, font, limit)
            lines.append(word[:cut])
            word = word[cut:]
        current = word
        if len(lines) >= max_lines:
            truncated = True
            break
    if current and not truncated:
        lines.append(current)
    if len(lines) > max_lines or truncated:
        lines = lines[:max_lines]
        lines[-1] = _ellipsize(lines[-1], font, limit)
    return lines


def text_overlay(prompt: str, seed: int, width: int, height: int) -> np.ndarray:
    """The text drawn over every frame, as a ``height × width × 4`` uint8 RGBA array.

    The prompt, wrapped over at most three lines (the last ending with "…" when it is
    cut), in white on a translucent dark panel at the top left; a small label at the
    bottom right says that this is the sandbox and not model output, with the seed.
    """
    margin = max(round(height * 0.03), 2)
    padding = max(round(height * 0.022), 2)
    panel_mask = Image.new("L", (width, height), 0)
    text_mask = Image.new("L", (width, height), 0)
    panel = ImageDraw.Draw(panel_mask)
    ink = ImageDraw.Draw(text_mask)

    font = _font(max(round(height * 0.055), 8))
    limit = width - 2 * (margin + padding)
    lines = _wrap_text(prompt, font, limit, _PROMPT_LINES) if limit > 0 else []
    if lines:
        ascent, descent = _metrics(font)
        line_height = round((ascent + descent) * 1.15)
        text_width = max(font.getlength(line) for line in lines)
        box = (
            margin,
            margin,
            round(margin + 2 * padding + text_width),
            margin + 2 * padding + line_height * len(lines) - (line_height - ascent - descent),
        )
        panel.rounded_rectangle(box, radius=padding, fill=120)
        for number, line in enumerate(lines):
            ink.text(
                (margin + padding, margin + padding + number * line_height),
                line,
                font=font,
                fill=255,
            )

    small = _font(max(round(height * 0.028), 6))
    label = f"eco_widget sandbox · seed {seed} · not model output"
    label_limit = width - 2 * (margin + padding)
    if label_limit > 0:
        if small.getlength(label) > label_limit:
            label = _ellipsize(label, small, label_limit)
        ascent, descent = _metrics(small)
        label_width = round(small.getlength(label))
        inner = max(padding // 2, 1)
        right, bottom = width - margin, height - margin
        left, top = right - label_width - 2 * padding, bottom - ascent - descent - 2 * inner
        panel.rounded_rectangle((left, top, right, bottom), radius=inner * 2, fill=110)
        ink.text((left + padding, top + inner), label, font=small, fill=225)

    backing = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    backing.putalpha(panel_mask)
    letters = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    letters.putalpha(text_mask)
    return np.asarray(Image.alpha_composite(backing, letters))
