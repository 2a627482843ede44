"""CLI commands: one module per command, each with `register(subparsers)`.

A module here adds its sub-parser(s) and sets `func` to a function taking the parsed args and
returning an exit code; errors are raised as EdgeVitError subclasses (cli.main maps them).
"""

from __future__ import annotations

import argparse

from edgevit.errors import UsageError

# Registration order is the order shown in `edgevit --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "edgevit.commands.demo", "edgevit.commands.data", "edgevit.commands.train", "edgevit.commands.export",
    "edgevit.commands.verify", "edgevit.commands.device", "edgevit.commands.savedmodel", "edgevit.commands.bench",
    "edgevit.commands.report",
)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, like every other edgevit error."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see --help)")
