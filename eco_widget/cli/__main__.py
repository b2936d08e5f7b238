"""``python -m eco_widget.cli``: the ``ecovideo`` command."""

import sys

from ._main import main

sys.exit(main())
