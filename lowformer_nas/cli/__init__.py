"""``lowformer-nas`` command line: one small function per subcommand, thin over the library.

Each command module exposes ``register(subparsers)``, adding its subcommands with
``set_defaults(func=...)``; ``func(args)`` returns an exit code. Any ``LowFormerNASError``
becomes one line on stderr and exit code 2, before anything is written.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from typing import Any

from ..errors import LowFormerNASError

COMMAND_MODULES = ("arch_cmds", "latency_cmds", "search_cmds", "audit_cmds")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the bad value and what is allowed), exit 2.

    Values that start with a minus and a digit (``-3ms``, ``-.5s``, ``-1``) are values, not
    options: otherwise ``--latency-budget -3ms`` fails as "expected one argument" instead of
    naming the bad budget (no lowformer-nas option looks like a negative number).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?[0-9]")

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"lowformer-nas: error: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lowformer-nas",
                     description="Hardware-aware NAS over the LowFormer family.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"lowformer-nas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # the reader left (``| head``): quiet, like other Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except LowFormerNASError as e:
        sys.stderr.write(f"lowformer-nas: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("lowformer-nas: interrupted; finished work is kept, rerun to continue\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
