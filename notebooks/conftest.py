"""The tutorial notebooks, run top to bottom by nbval (``pytest`` runs them: see
``[tool.pytest.ini_options]`` in pyproject.toml).

nbval starts one kernel per notebook, when the notebook's first cell is set up, and the
kernel inherits this process's environment at that moment. For just that moment the
environment is the one a reader without a key has, kept in a temporary folder: no
``ECOHASH_API_KEY`` or ``ECOHASH_BASE_URL`` (the notebook's first cell chooses the
sandbox), the sandbox's fast ``instant`` profile, its data, the saved videos and an
IPython profile under the folder, and the kernel's working directory there too (the
notebooks save files relative to it). Nothing is written outside the folder, which is
removed at the end of the run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest
from nbval.plugin import IPyNbFile

HERE = Path(__file__).resolve().parent
SANITIZE = HERE / "sanitize.cfg"

_root: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Read ``--nbval-sanitize-with`` relative to the project when it is not found from
    the current directory (pytest run from elsewhere), and default it to the
    sanitizers next to this file."""
    option = config.option
    if not hasattr(option, "nbval_sanitize_with"):
        return
    given = option.nbval_sanitize_with
    if given is None:
        option.nbval_sanitize_with = str(SANITIZE)
    elif not Path(given).exists() and (config.rootpath / given).exists():
        option.nbval_sanitize_with = str(config.rootpath / given)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _root
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
        _root = None


def kernel_environment(notebook: str) -> dict[str, str]:
    """The variables set for ``notebook``'s kernel (a folder of its own under the run's
    temporary folder); ``ECOHASH_API_KEY`` and ``ECOHASH_BASE_URL`` are removed."""
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="eco_widget-notebooks-"))
    folder = _root / notebook
    ipython = folder / "ipython"
    cwd = folder / "cwd"
    startup = ipython / "profile_default" / "startup"
    for path in (startup, cwd):
        path.mkdir(parents=True, exist_ok=True)
    (startup / "00-cwd.py").write_text(f"__import__('os').chdir({str(cwd)!r})\n")
    return {
        "ECOHASH_SANDBOX_PROFILE": "instant",
        "ECOHASH_SANDBOX_DIR": str(folder / "sandbox"),
        "ECOHASH_HOME": str(folder / "home"),
        "IPYTHONDIR": str(ipython),
    }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    notebook = item.parent
    if not isinstance(notebook, IPyNbFile) or notebook.kernel is not None:
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("ECOHASH_API_KEY", raising=False)
        patch.delenv("ECOHASH_BASE_URL", raising=False)
        for name, value in kernel_environment(Path(str(notebook.path)).stem).items():
            patch.setenv(name, value)
        return (yield)
