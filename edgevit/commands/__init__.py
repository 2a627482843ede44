"""CLI commands: one module per command, each with `register(subparsers)`.

A module here adds its sub-parser(s) and sets `func` to a function taking the parsed args and
returning an exit code; errors are raised as EdgeVitError subclasses (cli.main maps them).
"""

from __future__ import annotations

import argparse

from edgevit.console import Verbosity
from edgevit.errors import UsageError

# Registration order is the order shown in `edgevit --help`: the pipeline's (the demo runs it all).
COMMAND_MODULES: tuple[str, ...] = (
    "edgevit.commands.demo", "edgevit.commands.data", "edgevit.commands.weights", "edgevit.commands.train",
    "edgevit.commands.savedmodel", "edgevit.commands.import_model", "edgevit.commands.export", "edgevit.commands.verify",
    "edgevit.commands.debug", "edgevit.commands.bench", "edgevit.commands.report", "edgevit.commands.device",
)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, like every other edgevit error.

    Every edgevit parser, the top one and each command's, takes -v/--verbose and -q/--quiet, so they
    work wherever they are written (`edgevit -q export ...` or `edgevit export ... -q`).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        levels = self.add_mutually_exclusive_group()
        # No default here: a sub-command's default would overwrite a flag given before the command's
        # name. cli.build_parser sets the one default, on the top parser.
        levels.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=Verbosity.VERBOSE,
                            default=argparse.SUPPRESS, help="also show debug detail and third-party INFO lines")
        levels.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=Verbosity.QUIET,
                            default=argparse.SUPPRESS, help="no progress lines: only results, warnings and errors")

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see --help)")
