"""Check the built sdist and wheel beyond `twine check`: python .ci/check_dist.py DIST

- the metadata: a Metadata-Version that upload tools accept, Requires-Python, the license
  expression and its file, classifiers that PyPI knows (it refuses others on upload);
- the wheel: every file of the package in the sdist (modules, the front end's static
  files, py.typed), the `ecovideo` command, no tests;
- the sdist: the license, README, tests and notebooks (the tests run from it).
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from trove_classifiers import classifiers as KNOWN_CLASSIFIERS

# Metadata 2.5 needs twine >= 7 (packaging >= 26.1); 2.4 is read by every current tool.
METADATA_VERSIONS = {"2.1", "2.2", "2.3", "2.4"}
REQUIRES_PYTHON = ">=3.11"
PACKAGE = "eco_widget"
WHEEL_MUST_HAVE = {
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/py.typed",
    f"{PACKAGE}/notebook/static/widget.js",
    f"{PACKAGE}/notebook/static/widget.css",
}
SDIST_MUST_HAVE = {"LICENSE", "README.md", "pyproject.toml", "PKG-INFO"}
SDIST_MUST_HAVE_DIRS = {"tests/", "notebooks/", f"{PACKAGE}/"}


def fail(message: str) -> None:
    print(f"check_dist: {message}", file=sys.stderr)
    raise SystemExit(1)


def check_metadata(text: str, where: str) -> None:
    meta = Parser().parsestr(text)
    version = meta["Metadata-Version"]
    if version not in METADATA_VERSIONS:
        fail(f"{where}: Metadata-Version {version} (accepted: {sorted(METADATA_VERSIONS)})")
    if meta["Requires-Python"] != REQUIRES_PYTHON:
        fail(f"{where}: Requires-Python {meta['Requires-Python']!r}, not {REQUIRES_PYTHON!r}")
    if meta["License-Expression"] != "MIT" or "LICENSE" not in meta.get_all("License-File", []):
        fail(f"{where}: license expression or file missing")
    unknown = [c for c in meta.get_all("Classifier", []) if c not in KNOWN_CLASSIFIERS]
    if unknown:
        fail(f"{where}: classifiers PyPI does not know: {unknown}")
    if any(c.startswith("License ::") for c in meta.get_all("Classifier", [])):
        fail(f"{where}: a License :: classifier beside a license expression")


def main(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")

    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        sdist_files = {
            name.removeprefix(f"{top}/") for name in archive.getnames() if name.startswith(top)
        }
        pkg_info = archive.extractfile(f"{top}/PKG-INFO")
        assert pkg_info is not None
        check_metadata(pkg_info.read().decode(), sdist.name)
    missing = SDIST_MUST_HAVE - sdist_files
    missing |= {d for d in SDIST_MUST_HAVE_DIRS if not any(f.startswith(d) for f in sdist_files)}
    if missing:
        fail(f"{sdist.name} lacks {sorted(missing)}")

    with zipfile.ZipFile(wheel) as archive:
        wheel_files = set(archive.namelist())
        [metadata] = [n for n in wheel_files if n.endswith(".dist-info/METADATA")]
        check_metadata(archive.read(metadata).decode(), wheel.name)
        [entry_points] = [n for n in wheel_files if n.endswith(".dist-info/entry_points.txt")]
        if "ecovideo = eco_widget.cli:main" not in archive.read(entry_points).decode():
            fail(f"{wheel.name}: no `ecovideo` command")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel_files):
        fail(f"{wheel.name} lacks the LICENSE file")
    package_in_sdist = {
        f for f in sdist_files if f.startswith(f"{PACKAGE}/") and not f.endswith("/")
    }
    missing = (WHEEL_MUST_HAVE | package_in_sdist) - wheel_files
    if missing:
        fail(f"{wheel.name} lacks {sorted(missing)}")
    strays = sorted(n for n in wheel_files if n.startswith(("tests/", "benchmarks/", "notebooks/")))
    if strays:
        fail(f"{wheel.name} holds files that are not the package's: {strays[:5]}")
    print(
        f"check_dist: {wheel.name} ({len(wheel_files)} files) and {sdist.name} "
        f"({len(sdist_files)} files) hold what they should"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
