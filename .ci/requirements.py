"""Print requirements from pyproject.toml, one a line, for `pip install -r /dev/stdin`.

    python .ci/requirements.py test     the `test` extra without its own extras
                                        (eco_widget[...]), i.e. the test tools alone
    python .ci/requirements.py floors [EXTRA ...]
                                        the lowest version each `>=` floor allows, pinned
                                        with `==`: `dependencies`, and those extras

CI installs the package and the extras it wants explicitly (-e ".[sandbox]"), and the
test tools from here, so a job that must not pull in torch (Python 3.13: no CPU wheel
on the registries) still gets exactly the tools `pip install ".[test]"` would give.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]


def extra_tools(name: str) -> list[str]:
    data = project()
    own = data["name"].lower().replace("_", "-")
    tools = []
    for requirement in data["optional-dependencies"][name]:
        head = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
        if head.lower().replace("_", "-") != own:
            tools.append(requirement)
    return tools


def floors(requirements: list[str]) -> list[str]:
    pinned = []
    for requirement in requirements:
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*.*?>=\s*([0-9][^,;\s]*)", requirement)
        if match is None:
            raise SystemExit(f"no >= floor in {requirement!r}")
        name, extras, version = match.groups()
        pinned.append(f"{name}{extras or ''}=={version}")
    return pinned


def main(argv: list[str]) -> int:
    if not argv or (argv[0] != "floors" and len(argv) != 1):
        print(__doc__, file=sys.stderr)
        return 2
    what = argv[0]
    if what == "floors":
        requirements = list(project()["dependencies"])
        for extra in argv[1:]:
            requirements += extra_tools(extra)
        lines = floors(requirements)
    elif what in project()["optional-dependencies"]:
        lines = extra_tools(what)
    else:
        print(f"unknown: {what!r} (an extra's name, or 'floors')", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
