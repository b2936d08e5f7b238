# Shared by the .ci/ scripts (sourced, not run). Bash, `set -euo pipefail` by the caller.

# The repository root.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Virtual environments, built packages and logs of one CI run; outside the tree, so that
# neither ruff, pytest nor the sdist sees them. Every run starts them afresh.
CI_WORK="${ECO_CI_WORK:-${TMPDIR:-/tmp}/eco_widget-ci}"
# torch: always pinned. 2.13.0 is a CPU build on these machines (for Python 3.11); an
# unpinned torch resolves to a CUDA build and pulls several GB of nvidia-* packages.
TORCH_PIN="torch==2.13.0"
# Test tools that only the browser tests (tests/browser/) need.
BROWSER_TOOLS_RE='^(playwright|marimo|jupyterlab|notebook)([<>=!~ \[;]|$)'

# pip: quiet, and its download cache kept (pip's default folder, or PIP_CACHE_DIR), so
# that the later environments of a run reuse what the first one downloaded.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off

log() { printf '%s\n' "$*" >&2; }

# find_python VERSION|newest: the path of an interpreter. "3.11" → a 3.11.x, "newest" →
# the newest 3.x pyenv has. pyenv's versions first (their shims may be inactive), then
# PATH (for "newest": python3.13, python3.12, python3.11).
find_python() {
    local want="$1" root="" candidate=""
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root)"
    elif [ -d "${PYENV_ROOT:-$HOME/.pyenv}/versions" ]; then
        root="${PYENV_ROOT:-$HOME/.pyenv}"
    fi
    if [ -n "$root" ] && [ -d "$root/versions" ]; then
        local pattern='^3\.[0-9]+\.[0-9]+$'
        [ "$want" != newest ] && pattern="^${want//./\\.}\\.[0-9]+$"
        candidate="$(ls "$root/versions" | grep -E "$pattern" | sort -V | tail -n 1 || true)"
        if [ -n "$candidate" ] && [ -x "$root/versions/$candidate/bin/python" ]; then
            echo "$root/versions/$candidate/bin/python"
            return 0
        fi
    fi
    local names=("python$want")
    [ "$want" = newest ] && names=(python3.13 python3.12 python3.11)
    for candidate in "${names[@]}"; do
        if "$candidate" -c pass >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    log "no Python $want found (pyenv or python$want on PATH)"
    return 1
}

# new_venv DIR PYTHON: a fresh virtual environment (pip upgraded) at DIR.
new_venv() {
    rm -rf "$1"
    "$2" -m venv --upgrade-deps "$1" 2>&1 | { grep -v -e "is ignored: it is neither" -e "^Requirement already" -e "^Collecting" -e "^Using cached" -e "^Downloading" -e "^Installing collected" -e "^Attempting" -e "^Found existing" -e "^ *Uninstalling" -e "^ *Successfully" -e "^Looking in" || true; }
    [ -x "$1/bin/python" ]
}

# pip_install VENV ARGS...: pip install into VENV, its "location ignored" chatter dropped.
pip_install() {
    local venv="$1"
    shift
    "$venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}

# check_torch VENV: torch there is the pinned one.
check_torch() {
    "$1/bin/python" -c "
import torch
want = '${TORCH_PIN#torch==}'
assert torch.__version__.split('+')[0] == want, f'torch {torch.__version__}, not {want}'
print('torch', torch.__version__)"
}

# test_tools [--no-browser]: the `test` extra's tools (not the package's own extras), one
# a line; with --no-browser, without those only tests/browser/ needs.
test_tools() {
    if [ "${1:-}" = --no-browser ]; then
        python_for_tomllib "$ROOT/.ci/requirements.py" test | grep -v -E "$BROWSER_TOOLS_RE"
    else
        python_for_tomllib "$ROOT/.ci/requirements.py" test
    fi
}

# Any Python ≥ 3.11 (tomllib) for the helper scripts.
python_for_tomllib() {
    "${CI_PYTHON:-$(find_python 3.11)}" "$@"
}
