"""Command line: each command parses its options and calls one function; errors become exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from edgevit import __version__
from edgevit.commands import COMMAND_MODULES, Parser
from edgevit.console import Verbosity, configure
from edgevit.errors import EdgeVitError
from edgevit.portable.errors import one_line

INTERNAL_ERROR_EXIT = 70


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="edgevit", description="Fine-tune a ViT, export it for devices, verify and benchmark every artifact.")
    parser.add_argument("--version", action="version", version=f"edgevit {__version__}")
    parser.set_defaults(verbosity=Verbosity.DEFAULT)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    for module in COMMAND_MODULES:
        import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        configure(args.verbosity)  # before any command imports TensorFlow: its C++ log level is read at import
        args.argv = list(argv) if argv is not None else sys.argv[1:]  # what was typed, for train --resume
        return args.func(args)
    except EdgeVitError as exc:
        print(f"edgevit: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("edgevit: interrupted; finished files are intact, partial ones were not written", file=sys.stderr)
        return 130
    except MemoryError:
        print("edgevit: error: out of memory; use a smaller --batch-size or image size", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line by default, the traceback on request
        if os.environ.get("EDGEVIT_DEBUG"):
            raise
        print(f"edgevit: internal error: {type(exc).__name__}: {one_line(str(exc))} (set EDGEVIT_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return INTERNAL_ERROR_EXIT


if __name__ == "__main__":
    sys.exit(main())
