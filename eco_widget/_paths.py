"""Where eco_widget keeps what it must not lose: the user data folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["HOME_ENV", "data_home", "videos_dir"]

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
