"""The ``xpz`` command line.

Each subcommand lives in its own module under :mod:`xpz.commands`, defining
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.  Command
modules import heavy libraries only inside ``run`` so that ``xpz --help`` answers
at once.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from xpz import __version__
from xpz.errors import XpzError


def os_error_message(exc: OSError) -> str:
    """One line for a file-system error: what failed, and on which path.

    >>> os_error_message(PermissionError(13, "Permission denied", "/data/out.parquet"))
    '/data/out.parquet: Permission denied'
    >>> os_error_message(OSError("disk on fire"))
    'disk on fire'
    """
    if exc.strerror is None:
        return str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p not in (None, "")]
    return f"{' -> '.join(paths)}: {exc.strerror}" if paths else exc.strerror


def _command_modules() -> list:
    import xpz.commands

    names = sorted(m.name for m in pkgutil.iter_modules(xpz.commands.__path__) if not m.ispkg)
    return [importlib.import_module(f"xpz.commands.{name}") for name in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xpz",
        description="Galaxy redshifts from Gaia DR3 BP/RP (XP) spectra.",
    )
    parser.add_argument("--version", action="version", version=f"xpz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except XpzError as exc:
        print(f"xpz {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system said no: a user error, not a bug
        print(f"xpz {args.command}: error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"xpz {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
