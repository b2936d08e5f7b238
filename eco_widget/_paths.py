"""Where eco_widget keeps what it must not lose: the user data folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["HOME_ENV", "data_home", "inside", "videos_dir"]

HOME_ENV = "ECOHASH_HOME"


def data_home() -> Path:
    """The data folder: ``ECOHASH_HOME`` if set, else the user data folder
    (``~/.local/share/eco_widget`` on Linux)."""
    custom = os.environ.get(HOME_ENV)
    if custom:
        return Path(custom).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("eco_widget", appauthor=False))


def videos_dir() -> Path:
    """Where finished videos are saved as soon as they are downloaded."""
    return data_home() / "videos"


def inside(folder: str | os.PathLike[str], name: str) -> Path:
    """``folder / name`` (as ``folder`` was given), made only of a plain file name and
    checked to stay inside ``folder`` (links resolved): defence in depth for names
    built from what a server sent. Raises :class:`UnexpectedResponseError` otherwise."""
    from ._exceptions import UnexpectedResponseError

    given = Path(folder).expanduser()
    base = Path(os.path.realpath(given))
    target = Path(os.path.realpath(base / name))
    if Path(name).name != name or name in ("", ".", "..") or target.parent != base:
        raise UnexpectedResponseError(
            f"refusing to save as {name!r}: the file name would leave the folder {base}"
        )
    return given / name
