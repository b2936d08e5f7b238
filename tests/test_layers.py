"""The package's layers, as import contracts (``[tool.importlinter]`` in pyproject.toml,
checked with import-linter): the I/O-free core imports neither the journal, the sinks,
the shells nor anything above them; the shells import neither the notebook parts nor
the command line; the local server imports nothing of the client but ``_params``,
``_exceptions`` and what they share; the command line nothing of the notebook parts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")


def lint_imports(package_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(config), "--no-cache"],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_the_layers_are_kept():
    done = lint_imports(ROOT, ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("_flows.py", "from . import _journal", "I/O-free core"),
        ("_lifecycle.py", "from ._sinks import FileSink", "I/O-free core"),
        ("_async_client.py", "from .notebook import _widget", "The shells"),
        ("server/_views.py", "from .. import _client", "The local server"),
    ],
)
def test_an_import_across_a_layer_breaks_its_contract(tmp_path, module, line, contract):
    """The contracts are not vacuous: one import against a layer, added to a copy of the
    package, breaks the contract that names it."""
    shutil.copytree(ROOT / "eco_widget", tmp_path / "eco_widget", ignore=_no_caches)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "eco_widget" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    done = lint_imports(tmp_path, tmp_path / "pyproject.toml")
    assert done.returncode != 0, done.stdout
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout


def _no_caches(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]
