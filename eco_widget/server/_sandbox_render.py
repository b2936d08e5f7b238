"""The sandbox renderer: a procedural placeholder video drawn from the prompt and seed.

No model is involved. A SHA-256 digest of the prompt, seed, guidance scale and step count
chooses a palette and a small landscape (gradient sky, a sun, drifting clouds, two
ranges of scrolling hills, rising motes); the prompt and a "not model output" label are
written over it. The same parameters always give the same MP4 bytes.

Frames are drawn with vectorised NumPy in ``float32``: the static parts (sky, hills,
text) are computed once, and each frame only copies the sky and blends small patches
and bands into it. NumPy, Pillow and PyAV are imported here, never by
``import eco_widget``: they belong to the ``sandbox`` extra.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .._params import VideoParams
from ._mp4 import encode_mp4
from ._sandbox_text import text_overlay

__all__ = ["render_sandbox_video", "sandbox_frames", "text_overlay"]


def render_sandbox_video(
    params: VideoParams,
    *,
    width: int = 832,
    height: int = 480,
    progress: Callable[[float], None] | None = None,
) -> bytes:
    """Render the sandbox video of ``params`` and return the MP4 file's bytes.

    The video has exactly ``params.num_frames`` frames of ``width × height`` at
    ``params.fps``. ``progress``, when given, is called with ``k / num_frames`` once
    the k-th frame has been handed to the encoder: increasing fractions ending at 1.0.
    Raises :class:`ValueError` when ``params.seed`` is ``None``.
    """
    frames = sandbox_frames(params, width=width, height=height, progress=progress)
    return encode_mp4(frames, fps=params.fps, width=width, height=height)


def sandbox_frames(
    params: VideoParams,
    *,
    width: int = 832,
    height: int = 480,
    progress: Callable[[float], None] | None = None,
) -> Iterator[np.ndarray]:
    """Yield the ``params.num_frames`` RGB frames (``height × width × 3`` uint8) of the video.

    ``progress`` is called with ``k / num_frames`` when the consumer asks for the frame
    after the k-th. Raises :class:`ValueError` at once when ``params.seed`` is ``None``.
    """
    if params.seed is None:
        raise ValueError("the sandbox renderer needs a seed: params.seed is None")
    if width < 2 or height < 2:
        raise ValueError(f"width and height must be at least 2; got {width}×{height}")
    scene = _Scene.build(params, params.seed, width=width, height=height)
    return _frames(scene, params.num_frames, params.fps, progress)


def _frames(
    scene: _Scene, count: int, fps: int, progress: Callable[[float], None] | None
) -> Iterator[np.ndarray]:
    """Draw ``count`` frames of ``scene`` at ``fps``, reporting progress after each."""
    for index in range(count):
        yield scene.draw(index / fps)
        if progress is not None:
            progress((index + 1) / count)


def _digest(params: VideoParams) -> bytes:
    """The bytes every visual choice is drawn from."""
    key = "\x00".join(
        (
            "eco_widget-sandbox-v1",
            params.prompt,
            str(params.seed),
            repr(float(params.guidance_scale)),
            str(params.num_inference_steps),
        )
    )
    return hashlib.sha256(key.encode("utf-8")).digest()


def _hls(hue: float, lightness: float, saturation: float) -> np.ndarray:
    """An RGB colour (0–255, float32) from hue (any real, wraps), lightness, saturation."""
    rgb = colorsys.hls_to_rgb(hue % 1.0, min(max(lightness, 0.0), 1.0), saturation)
    return np.array(rgb, dtype=np.float32) * 255.0


@dataclass(frozen=True)
class _Blob:
    """A soft ellipse that drifts sideways (wrapping) and bobs up and down."""

    x: float
    y: float
    rx: float
    ry: float
    vx: float
    vy: float
    bob: float
    period: float
    phase: float
    colour: np.ndarray
    opacity: float
    twinkle: float

    def centre(self, t: float, width: int) -> tuple[float, float]:
        """The centre at ``t`` seconds; leaving one side, it comes back on the other."""
        span = width + 2.0 * self.rx
        x = (self.x + self.vx * t + self.rx) % span - self.rx
        y = self.y + self.vy * t + self.bob * math.sin(2 * math.pi * t / self.period + self.phase)
        return x, y

    def strength(self, t: float) -> float:
        """Opacity at ``t`` seconds (motes pulse, clouds stay steady)."""
        pulse = 0.5 + 0.5 * math.sin(2 * math.pi * t / self.period * 2.3 + self.phase)
        return self.opacity * (1.0 - self.twinkle * pulse)


@dataclass(frozen=True)
class _Band:
    """A precomputed horizontal layer: premultiplied colour and 1 − alpha, from row ``top``.

    ``period`` > 0 marks a layer twice that wide that scrolls by slicing; 0 a fixed one.
    """

    top: int
    left: int
    premultiplied: np.ndarray
    transparency: np.ndarray
    speed: float = 0.0
    period: int = 0

    def blend(self, frame: np.ndarray, t: float) -> None:
        """Composite this layer over ``frame`` in place, scrolled to ``t`` seconds."""
        rows, cols = self.premultiplied.shape[:2]
        if self.period:
            cols = self.period
            start = round(self.speed * t) % self.period
        else:
            start = 0
        region = frame[self.top : self.top + rows, self.left : self.left + cols]
        region *= self.transparency[:, start : start + cols]
        region += self.premultiplied[:, start : start + cols]


@dataclass(frozen=True)
class _Scene:
    """Everything needed to draw any frame: static layers and the moving parts."""

    sky: np.ndarray
    sun: _Blob
    glow_colour: np.ndarray
    clouds: tuple[_Blob, ...]
    motes: tuple[_Blob, ...]
    hills: tuple[_Band, ...]
    text: tuple[_Band, ...]

    @classmethod
    def build(cls, params: VideoParams, seed: int, *, width: int, height: int) -> _Scene:
        """Derive the scene of ``params``, whose seed is ``seed``."""
        rng = random.Random(_digest(params))
        w, h = float(width), float(height)
        hue = rng.random()
        mood = rng.uniform(-0.08, 0.08)
        horizon = h * rng.uniform(0.6, 0.7)

        top = _hls(hue + rng.uniform(-0.05, 0.05), 0.2 + mood, rng.uniform(0.45, 0.7))
        middle = _hls(hue + rng.uniform(0.04, 0.1), 0.5 + mood, rng.uniform(0.5, 0.75))
        glow = _hls(hue + rng.uniform(0.1, 0.2), 0.78 + mood / 2, rng.uniform(0.7, 0.95))
        sky = _sky(width, height, horizon, (top, middle, glow))

        sun_radius = h * rng.uniform(0.05, 0.085)
        sun = _Blob(
            x=w * rng.uniform(0.2, 0.8),
            y=horizon - h * rng.uniform(0.12, 0.3),
            rx=sun_radius,
            ry=sun_radius,
            vx=rng.choice((-1, 1)) * rng.uniform(2.0, 6.0),
            vy=rng.uniform(1.0, 3.0),
            bob=0.0,
            period=1.0,
            phase=0.0,
            colour=_hls(hue + rng.uniform(0.08, 0.16), 0.86, 1.0),
            opacity=1.0,
            twinkle=0.0,
        )
        wind = rng.choice((-1, 1))
        clouds = tuple(_cloud(rng, w, h, horizon, hue, wind) for _ in range(rng.randint(4, 7)))
        motes = tuple(_mote(rng, w, h, horizon, hue) for _ in range(rng.randint(10, 18)))

        haze = 0.5 * glow + 0.5 * _hls(hue + 0.5, 0.3 + mood, 0.3)
        far = _hill_band(
            rng,
            width,
            height,
            base=horizon - h * 0.04,
            amplitude=h * 0.07,
            colours=(haze, 0.75 * haze),
            speed=wind * rng.uniform(4.0, 9.0),
        )
        near_colour = _hls(hue + rng.uniform(0.4, 0.6), 0.16 + mood / 2, rng.uniform(0.3, 0.5))
        near = _hill_band(
            rng,
            width,
            height,
            base=horizon + h * 0.1,
            amplitude=h * 0.05,
            colours=(near_colour, 0.55 * near_colour),
            speed=wind * rng.uniform(14.0, 26.0),
        )
        overlay = text_overlay(params.prompt, seed, width, height)
        return cls(
            sky=sky,
            sun=sun,
            glow_colour=0.5 * (sun.colour + glow),
            clouds=clouds,
            motes=motes,
            hills=(far, near),
            text=_overlay_bands(overlay),
        )

    def draw(self, t: float) -> np.ndarray:
        """The frame at ``t`` seconds, as ``height × width × 3`` uint8 RGB."""
        frame = self.sky.copy()
        self._draw_sun(frame, t)
        for cloud in self.clouds:
            _blend_blob(frame, cloud, t)
        far, near = self.hills
        far.blend(frame, t)
        for mote in self.motes:
            _blend_blob(frame, mote, t)
        near.blend(frame, t)
        for band in self.text:
            band.blend(frame, t)
        frame += 0.5
        return frame.astype(np.uint8)

    def _draw_sun(self, frame: np.ndarray, t: float) -> None:
        """A crisp disc with a wide additive halo."""
        sun = self.sun
        cx, cy = sun.x + sun.vx * t, sun.y + sun.vy * t
        reach = 3.5 * sun.rx
        patch = _patch(frame, cx, cy, reach, reach)
        if patch is None:
            return
        region, dist2 = patch
        dist = np.sqrt(dist2)
        disc = np.clip(sun.rx + 0.5 - dist, 0.0, 1.0)[..., None]
        halo = np.clip(1.0 - dist2 / (reach * reach), 0.0, 1.0)
        halo = (0.45 * halo * halo)[..., None]
        region += disc * (sun.colour - region) + halo * self.glow_colour
        np.minimum(region, 255.0, out=region)


def _sky(
    width: int, height: int, horizon: float, colours: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """A vertical gradient, top → middle → glow at the horizon, as ``float32`` H×W×3."""
    rows = np.arange(height, dtype=np.float32)
    stops = np.array([0.0, 0.55 * horizon, horizon, float(height)], dtype=np.float32)
    top, middle, glow = colours
    ramp = np.stack([top, middle, glow, glow])
    column = np.stack([np.interp(rows, stops, ramp[:, c]) for c in range(3)], axis=1)
    sky = np.empty((height, width, 3), dtype=np.float32)
    sky[:] = column[:, None, :]
    return sky


def _cloud(rng: random.Random, w: float, h: float, horizon: float, hue: float, wind: int) -> _Blob:
    """A large pale ellipse drifting with the wind in the upper sky."""
    ry = h * rng.uniform(0.04, 0.09)
    return _Blob(
        x=w * rng.random(),
        y=rng.uniform(0.08 * h, horizon - 0.1 * h),
        rx=ry * rng.uniform(1.8, 3.2),
        ry=ry,
        vx=wind * rng.uniform(8.0, 30.0),
        vy=0.0,
        bob=h * rng.uniform(0.004, 0.015),
        period=rng.uniform(3.0, 8.0),
        phase=rng.uniform(0.0, 2 * math.pi),
        colour=_hls(hue + rng.uniform(-0.08, 0.08), rng.uniform(0.82, 0.95), 0.5),
        opacity=rng.uniform(0.25, 0.55),
        twinkle=0.0,
    )


def _mote(rng: random.Random, w: float, h: float, horizon: float, hue: float) -> _Blob:
    """A small glowing dot rising slowly over the hills, pulsing."""
    radius = h * rng.uniform(0.006, 0.014)
    return _Blob(
        x=w * rng.random(),
        y=rng.uniform(horizon, 0.95 * h),
        rx=radius,
        ry=radius,
        vx=rng.uniform(-6.0, 6.0),
        vy=-h * rng.uniform(0.005, 0.02),
        bob=h * rng.uniform(0.005, 0.015),
        period=rng.uniform(1.5, 4.0),
        phase=rng.uniform(0.0, 2 * math.pi),
        colour=_hls(hue + rng.uniform(0.1, 0.2), 0.85, 1.0),
        opacity=rng.uniform(0.6, 0.95),
        twinkle=0.6,
    )


def _patch(
    frame: np.ndarray, cx: float, cy: float, rx: float, ry: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The view of ``frame`` around an ellipse and each pixel's normalised distance².

    The distance² is in units of ``rx`` (so a circle gets pixel distances² when
    ``rx == ry``); ``None`` when the ellipse lies outside the frame.
    """
    height, width = frame.shape[:2]
    x0, x1 = max(math.floor(cx - rx), 0), min(math.ceil(cx + rx) + 1, width)
    y0, y1 = max(math.floor(cy - ry), 0), min(math.ceil(cy + ry) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    dx = np.arange(x0, x1, dtype=np.float32) - np.float32(cx)
    dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(cy)) * np.float32(rx / ry)
    return frame[y0:y1, x0:x1], dy[:, None] ** 2 + dx[None, :] ** 2


def _blend_blob(frame: np.ndarray, blob: _Blob, t: float) -> None:
    """Blend one soft ellipse into ``frame`` in place (opacity falls off to its rim)."""
    cx, cy = blob.centre(t, frame.shape[1])
    patch = _patch(frame, cx, cy, blob.rx, blob.ry)
    if patch is None:
        return
    region, dist2 = patch
    falloff = np.clip(1.0 - dist2 / (blob.rx * blob.rx), 0.0, 1.0)
    alpha = (falloff * falloff * blob.strength(t))[..., None]
    region += alpha * (blob.colour - region)


def _hill_band(
    rng: random.Random,
    width: int,
    height: int,
    *,
    base: float,
    amplitude: float,
    colours: tuple[np.ndarray, np.ndarray],
    speed: float,
) -> _Band:
    """A range of hills, periodic across the width so that it can scroll forever."""
    xs = np.arange(2 * width, dtype=np.float64)
    ridge = np.full(2 * width, base)
    for cycles, share in (
        (rng.randint(1, 2), 0.55),
        (rng.randint(3, 5), 0.3),
        (rng.randint(8, 13), 0.15),
    ):
        phase = rng.uniform(0.0, 2 * math.pi)
        ridge += amplitude * share * np.sin(2 * math.pi * cycles * xs / width + phase)
    top = max(math.floor(ridge.min()), 0)
    rows = np.arange(top, height, dtype=np.float64)[:, None]
    coverage = np.clip(rows - ridge[None, :] + 0.5, 0.0, 1.0).astype(np.float32)[..., None]
    depth = ((rows - top) / max(height - top, 1)).astype(np.float32)[..., None]
    upper, lower = colours
    colour = upper + depth * (lower - upper)
    return _Band(
        top=top,
        left=0,
        premultiplied=(coverage * colour).astype(np.float32),
        transparency=(1.0 - coverage).astype(np.float32),
        speed=speed,
        period=width,
    )


def _overlay_bands(overlay: np.ndarray) -> tuple[_Band, ...]:
    """Split an RGBA overlay into the tight boxes around its visible runs of rows."""
    alpha = overlay[..., 3]
    visible_rows = np.flatnonzero(alpha.any(axis=1))
    if visible_rows.size == 0:
        return ()
    breaks = np.flatnonzero(np.diff(visible_rows) > 1)
    starts = np.concatenate(([visible_rows[0]], visible_rows[breaks + 1]))
    ends = np.concatenate((visible_rows[breaks], [visible_rows[-1]])) + 1
    bands = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        columns = np.flatnonzero(alpha[start:end].any(axis=0))
        left, right = int(columns[0]), int(columns[-1]) + 1
        box = overlay[start:end, left:right].astype(np.float32)
        opacity = box[..., 3:] / 255.0
        bands.append(
            _Band(
                top=start,
                left=left,
                premultiplied=box[..., :3] * opacity,
                transparency=1.0 - opacity,
            )
        )
    return tuple(bands)
