"""No test reaches the Hugging Face Hub: ``tests/conftest.py`` makes the whole session
offline before huggingface_hub is imported, and the processes tests start inherit it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import OFFLINE

SHOW = (
    "import os, huggingface_hub.constants as c\n"
    "print(c.HF_HUB_OFFLINE, c.HF_HUB_DISABLE_TELEMETRY, os.environ.get('TRANSFORMERS_OFFLINE'))\n"
)


def test_huggingface_hub_is_offline_in_this_session():
    import huggingface_hub.constants

    # Read once, when huggingface_hub was first imported (by whichever test or plugin).
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    assert huggingface_hub.constants.HF_HUB_DISABLE_TELEMETRY is True
    assert {name: os.environ.get(name) for name in OFFLINE} == OFFLINE


def test_a_process_started_by_a_test_is_offline_too():
    shown = subprocess.run(
        [sys.executable, "-c", SHOW], capture_output=True, text=True, check=True, timeout=120
    )
    assert shown.stdout.split() == ["True", "True", "1"], shown.stderr
