#!/usr/bin/env bash
# .ci/floors.sh: the package with every `>=` floor of `dependencies` and of the sandbox
# extra installed exactly (.ci/requirements.py floors: ipywidgets 7.6.5, anywidget 0.9.9,
# httpx 0.27.0, platformdirs 3.0.0, tqdm 4.66.0, nest-asyncio2 1.6.1, psutil 5.9.0,
# starlette 0.37.0, uvicorn 0.29.0, numpy 1.24.0, av 18.0.0, pillow 10.1.0) in a fresh
# Python 3.11 venv, and the widget's Python-side tests (no browser; the widget in a real
# kernel too) and the core client tests run there. A floor that is not true fails here.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
VENV="$CI_WORK/floors"
new_venv "$VENV" "$(find_python 3.11)"
python_for_tomllib "$ROOT/.ci/requirements.py" floors sandbox > "$CI_WORK/floors.txt"
test_tools --no-browser > "$CI_WORK/tools-no-browser.txt"
pip_install "$VENV" -e "$ROOT[sandbox]" -r "$CI_WORK/tools-no-browser.txt" -c "$CI_WORK/floors.txt"
echo "floors:"
"$VENV/bin/python" - "$CI_WORK/floors.txt" <<'PY'
import sys
from importlib.metadata import version

from packaging.requirements import Requirement

wrong = []
for line in open(sys.argv[1]).read().split():
    req = Requirement(line)
    have = version(req.name)
    if not req.specifier.contains(have):
        wrong.append(f"{req.name} {have} (wanted {req.specifier})")
    print(f"  {req.name} {have}")
assert not wrong, f"not at their floors: {wrong}"
PY
cd "$ROOT"
"$VENV/bin/python" -m pytest -W "ignore::DeprecationWarning" \
    tests/test_widget.py tests/test_widget_home_loop.py tests/test_widget_outcomes.py \
    tests/test_widget_resume.py tests/test_gallery.py tests/test_static_fallback.py \
    tests/test_colab.py tests/test_magic.py tests/kernel \
    tests/test_client.py tests/test_flows.py
