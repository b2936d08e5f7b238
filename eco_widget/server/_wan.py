"""Wan2.1 T2V 1.3B through diffusers: the local server's real backend (extra ``local``).

torch and diffusers are imported when the model is first loaded, never before. The model
is a Hugging Face id or a local folder in the diffusers layout; the transformer and the
text encoder run in bfloat16, the VAE in float32, with UniPC (flow shift 3.0 at 480p,
5.0 above). On CUDA the whole pipeline moves to the GPU, or — when the GPU has less
memory than the model needs — is offloaded to the CPU part by part.

The API's parameters map as follows: ``num_frames`` is raised to the next 4k+1 (what the
model makes) and the extra frames are dropped, so the video has exactly ``num_frames``;
``seed`` seeds a CPU ``torch.Generator`` (the same noise on every device); ``fps`` only
sets the MP4's rate. Progress moves with each denoising step (to 90 %), then the VAE
decodes and the frames are encoded to H.264 like the sandbox's.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._exceptions import EcoVideoError
from .._params import VideoParams

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_NEGATIVE_PROMPT",
    "WanRenderer",
    "WeightsUnavailableError",
    "model_frames",
]

DEFAULT_MODEL = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
#: What the diffusers folder of the default model weighs.
WEIGHTS_SIZE = "about 29 GB"
#: Below this much GPU memory the pipeline is offloaded to the CPU part by part.
OFFLOAD_BELOW_BYTES = 16 * 1024**3
#: The negative prompt Wan's authors recommend (English rendering).
DEFAULT_NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, "
    "paintings, images, static, overall gray, worst quality, low quality, JPEG compression "
    "residue, ugly, incomplete, extra fingers, poorly drawn hands, poorly drawn faces, "
    "deformed, disfigured, misshapen limbs, fused fingers, still picture, messy background, "
    "three legs, many people in the background, walking backwards"
)
_DENOISE_SHARE = 0.9


class WeightsUnavailableError(EcoVideoError, RuntimeError):
    """The model's weights are not on this machine and could not be downloaded (or a
    local folder does not hold a readable pipeline)."""


def model_frames(num_frames: int) -> int:
    """The frame count Wan makes for a request of ``num_frames``: the next 4k+1."""
    return num_frames + (-(num_frames - 1)) % 4


def _fetch_hint(model: str) -> str:
    return (
        f"The weights of {DEFAULT_MODEL} are {WEIGHTS_SIZE}. Fetch them beforehand, where "
        "there is a network: `huggingface-cli download "
        f"{DEFAULT_MODEL} --local-dir ~/models/wan2.1-t2v-1.3b`, then run "
        "`ecovideo serve --backend wan --model ~/models/wan2.1-t2v-1.3b` (or set "
        "ECOHASH_MODEL to that folder for base_url='local')."
    )


class WanRenderer:
    """Renders with a Wan text-to-video pipeline; one render at a time.

    ``model`` is a Hugging Face id or a folder saved with ``save_pretrained``;
    ``width``×``height`` must be multiples of 16 (832×480 by default); ``device``
    defaults to CUDA when present, else the CPU.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        *,
        width: int = 832,
        height: int = 480,
        device: str | None = None,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    ) -> None:
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 16 or value % 16:
                raise ValueError(f"{name} must be a multiple of 16 (at least 16); got {value!r}")
        self.model = (
            str(Path(model).expanduser()) if Path(model).expanduser().exists() else str(model)
        )
        self.width, self.height = width, height
        self.device = device
        self.negative_prompt = negative_prompt
        self.offloaded = False
        self._pipe: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WanRenderer(model={self.model!r}, size={self.width}x{self.height})"

    # -- loading ------------------------------------------------------------------------
    def load(self) -> Any:
        """Load the pipeline (once); raises :class:`WeightsUnavailableError` with how to
        fetch the weights when they cannot be had."""
        with self._lock:
            if self._pipe is None:
                self._pipe = self._load()
            return self._pipe

    def _load(self) -> Any:
        import torch
        from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline

        try:
            with warnings.catch_warnings():  # diffusers passes huggingface_hub a retired flag
                warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
                vae = AutoencoderKLWan.from_pretrained(
                    self.model, subfolder="vae", dtype=torch.float32
                )
                pipe = WanPipeline.from_pretrained(self.model, vae=vae, dtype=torch.bfloat16)
        except (OSError, ValueError) as exc:
            where = (
                f"the folder {self.model} does not hold a readable Wan pipeline"
                if Path(self.model).exists()
                else f"{self.model!r} is not a local folder and could not be downloaded"
            )
            raise WeightsUnavailableError(
                f"Wan2.1 weights unavailable: {where} ({type(exc).__name__}: {exc}). "
                + _fetch_hint(self.model)
            ) from exc
        shift = 3.0 if self.height <= 480 else 5.0
        pipe.scheduler = UniPCMultistepScheduler.from_config(
            pipe.scheduler.config, flow_shift=shift
        )
        pipe.set_progress_bar_config(disable=True)
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device.startswith("cuda"):
            total = torch.cuda.get_device_properties(torch.device(device)).total_memory
            if total < OFFLOAD_BELOW_BYTES:
                pipe.enable_model_cpu_offload(device=device)
                self.offloaded = True
            else:
                pipe.to(device)
        else:
            pipe.to(device)
        self.device = device
        return pipe

    # -- rendering ----------------------------------------------------------------------
    def render(self, params: VideoParams, progress: Callable[[float], None]) -> bytes:
        """Make the video of ``params`` and return its MP4 bytes (exactly
        ``params.num_frames`` frames at ``params.fps``)."""
        import numpy as np
        import torch

        from ._mp4 import encode_mp4

        pipe = self.load()
        steps = params.num_inference_steps
        assert params.seed is not None

        def on_step(pipe: Any, index: int, timestep: Any, kwargs: dict[str, Any]) -> dict:
            progress(_DENOISE_SHARE * (index + 1) / steps)
            return kwargs

        try:
            with torch.inference_mode():
                output = pipe(
                    prompt=params.prompt,
                    negative_prompt=self.negative_prompt,
                    height=self.height,
                    width=self.width,
                    num_frames=model_frames(params.num_frames),
                    num_inference_steps=steps,
                    guidance_scale=params.guidance_scale,
                    generator=torch.Generator(device="cpu").manual_seed(params.seed),
                    output_type="np",
                    callback_on_step_end=on_step,
                )
        except torch.OutOfMemoryError as exc:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise RuntimeError(
                f"out of GPU memory for {params.num_frames} frames at "
                f"{self.width}x{self.height}: ask for fewer frames, or run the server "
                "with a smaller --size"
            ) from exc
        frames = np.asarray(output.frames[0])[: params.num_frames]
        if frames.shape[0] != params.num_frames:
            raise RuntimeError(f"the model made {frames.shape[0]} frames, not {params.num_frames}")
        if not np.isfinite(frames).all():
            raise RuntimeError(
                "the model produced invalid values (NaN): the weights may be damaged, or "
                "the GPU does not support bfloat16"
            )
        progress(0.95)
        pixels = (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)
        return encode_mp4(pixels, fps=params.fps, width=self.width, height=self.height)
