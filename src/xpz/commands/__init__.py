"""Subcommands of the ``xpz`` command line, one module each (see :mod:`xpz.cli`)."""
