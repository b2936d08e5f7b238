"""``ecovideo``, the command line: the parser, the commands, their output and exit
statuses. ``main(argv)`` runs one command and returns its exit status."""

from ._main import main

__all__ = ["main"]
