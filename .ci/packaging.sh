#!/usr/bin/env bash
# .ci/packaging.sh: build the sdist and the wheel (python -m build: the wheel is built
# from the sdist, so a file missing from the sdist fails here), `twine check --strict`
# both, and check what they hold (.ci/check_dist.py). Output: $ECO_CI_WORK/dist.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TOOLS="$CI_WORK/packaging-tools"
DIST="$CI_WORK/dist"
new_venv "$TOOLS" "$(find_python 3.11)"
pip_install "$TOOLS" -r "$ROOT/.ci/packaging-tools.txt"
rm -rf "$DIST"
"$TOOLS/bin/python" -m build -q --outdir "$DIST" "$ROOT" 2> >(grep -v "is ignored: it is neither" >&2)
ls "$DIST"/*.whl "$DIST"/*.tar.gz >/dev/null
"$TOOLS/bin/twine" check --strict "$DIST"/*
"$TOOLS/bin/python" "$ROOT/.ci/check_dist.py" "$DIST"
