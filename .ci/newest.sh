#!/usr/bin/env bash
# .ci/newest.sh: the test suite without tests/browser/ on the newest Python pyenv has
# (ECO_CI_NEWEST_PYTHON=/path/to/python to choose another), in a fresh venv.
#
# torch: the registries hold the pinned torch as a CPU build only for some Pythons (here
# 3.11, from the machine's wheel folder); for the others PyPI's build is a CUDA one that
# pulls several GB of nvidia-* packages. A dry run finds out which. Without a CPU build
# the `local` extra comes without torch and accelerate (diffusers, transformers and the
# Hugging Face Hub still do), tests/server/test_wan.py (the Wan2.1 backend run on CPU
# with a tiny model: the only tests that need torch) is deselected, and this is
# printed; those tests run on 3.11 in the main job. Everything else runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY="${ECO_CI_NEWEST_PYTHON:-$(find_python newest)}"
VENV="$CI_WORK/newest"
echo "python: $PY ($("$PY" -V 2>&1))"
new_venv "$VENV" "$PY"
test_tools --no-browser > "$CI_WORK/tools-no-browser.txt"

REPORT="$CI_WORK/newest-torch.json"
torch_build=none
if "$VENV/bin/python" -m pip install --quiet --dry-run --ignore-installed --report "$REPORT" \
    "$TORCH_PIN" 2>/dev/null; then
    torch_build="$("$VENV/bin/python" - "$REPORT" <<'PY'
import json, sys
names = [item["metadata"]["name"].lower() for item in json.load(open(sys.argv[1]))["install"]]
print("cuda" if any(n.startswith(("nvidia", "cuda")) for n in names) else "cpu")
PY
)"
fi

DESELECT=()
if [ "$torch_build" = cpu ]; then
    pip_install "$VENV" "$TORCH_PIN"
    pip_install "$VENV" "$TORCH_PIN" -e "$ROOT[sandbox,local]" -r "$CI_WORK/tools-no-browser.txt"
    check_torch "$VENV"
else
    echo "NOTE: no CPU build of $TORCH_PIN for $("$PY" -V 2>&1) on the registries" \
        "(found: $torch_build); the local extra is installed without torch and" \
        "accelerate, and tests/server/test_wan.py is deselected (it runs on 3.11 in the" \
        "main job)."
    python_for_tomllib "$ROOT/.ci/requirements.py" local \
        | grep -v -E '^(torch|accelerate)([<>=!~ \[;]|$)' > "$CI_WORK/local-without-torch.txt"
    pip_install "$VENV" -e "$ROOT[sandbox]" -r "$CI_WORK/tools-no-browser.txt" \
        -r "$CI_WORK/local-without-torch.txt"
    DESELECT=(--deselect tests/server/test_wan.py)
fi
cd "$ROOT"
"$VENV/bin/python" -m pytest --ignore=tests/browser "${DESELECT[@]}"
