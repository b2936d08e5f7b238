#!/usr/bin/env bash
# .ci/extras.sh: the built wheel ($ECO_CI_WORK/dist, from .ci/packaging.sh; built here
# when absent) installed with each extra into a fresh Python 3.11 venv, and that extra's
# modules imported:
#   base      eco_widget, its Client, AsyncClient, VideoWidget and the `ecovideo` command;
#             none of the extras' packages came with it
#   sandbox   eco_widget.server, and the README's first command: a video made on the
#             embedded sandbox
#   local     (torch pinned first) torch, diffusers' Wan pipeline, transformers,
#             accelerate: everything the local Wan2.1 engine imports; still a CPU torch
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY="$(find_python 3.11)"
DIST="$CI_WORK/dist"
if ! ls "$DIST"/*.whl >/dev/null 2>&1; then
    "$ROOT/.ci/packaging.sh"
fi
WHEEL="$(ls "$DIST"/*.whl)"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT

echo "-- base"
VENV="$CI_WORK/extra-base"
new_venv "$VENV" "$PY"
pip_install "$VENV" "$WHEEL"
(cd "$SCRATCH" && "$VENV/bin/python" - <<'PY'
from importlib.util import find_spec

import eco_widget
from eco_widget import AsyncClient, Client, VideoWidget

assert callable(Client) and callable(AsyncClient) and callable(VideoWidget)
extras = [m for m in ("starlette", "uvicorn", "av", "torch", "diffusers") if find_spec(m)]
assert not extras, f"the base install brought the extras' {extras}"
print("base: eco_widget", eco_widget.__version__, "from", eco_widget.__file__)
PY
)
"$VENV/bin/ecovideo" --help >/dev/null

echo "-- sandbox"
VENV="$CI_WORK/extra-sandbox"
new_venv "$VENV" "$PY"
pip_install "$VENV" "$WHEEL[sandbox]"
(cd "$SCRATCH" && "$VENV/bin/python" -c "
import eco_widget.server
from eco_widget.server import SandboxRenderer, ThreadedServer, create_app
print('sandbox: eco_widget.server imports')")
# The README's first command (ECOHASH_HOME: a data folder of its own).
(cd "$SCRATCH" && ECOHASH_HOME="$SCRATCH/home" "$VENV/bin/ecovideo" generate \
    "a red balloon floating over a mountain at dawn" --sandbox -o balloon.mp4)
"$VENV/bin/python" -c "
import sys
data = open(sys.argv[1], 'rb').read()
assert data[4:8] == b'ftyp', 'not an MP4'
print(f'sandbox: balloon.mp4, {len(data)} bytes')" "$SCRATCH/balloon.mp4"

echo "-- local"
VENV="$CI_WORK/extra-local"
new_venv "$VENV" "$PY"
pip_install "$VENV" "$TORCH_PIN"
pip_install "$VENV" "$TORCH_PIN" "$WHEEL[local]"
check_torch "$VENV"
(cd "$SCRATCH" && "$VENV/bin/python" - <<'PY'
from importlib.metadata import distributions

import accelerate
import ftfy
import tokenizers
import torch
import transformers
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline
from transformers import PreTrainedTokenizerFast, UMT5EncoderModel

from eco_widget._local_engine import ENGINE_DEPENDENCIES, _importable
from eco_widget.server import WanRenderer

missing = sorted(name for name in ENGINE_DEPENDENCIES if not _importable(name))
assert not missing, f"the local engine lacks {missing}"
cuda = sorted(d.metadata["Name"] for d in distributions() if d.metadata["Name"].startswith("nvidia"))
assert not cuda, f"a CUDA torch came in: {cuda}"
print("local: torch", torch.__version__, "transformers", transformers.__version__,
      "accelerate", accelerate.__version__)
PY
)
