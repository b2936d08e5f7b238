#!/usr/bin/env bash
# .ci/install.sh [VENV]: the README's test install in a fresh Python 3.11 venv
# (default $ECO_CI_WORK/py311): torch pinned first (a CPU build), then -e ".[test]" with
# the pin repeated so that nothing moves it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
VENV="${1:-$CI_WORK/py311}"
PY="$(find_python 3.11)"
echo "python: $PY ($("$PY" -V 2>&1)) -> $VENV"
new_venv "$VENV" "$PY"
pip_install "$VENV" "$TORCH_PIN"
pip_install "$VENV" "$TORCH_PIN" -e "$ROOT[test]"
check_torch "$VENV"
