"""CLI commands that live beside their feature: each module has `register(subparsers)`.

A module here adds its sub-parser(s) and sets `func` to a function taking the parsed args and
returning an exit code; errors are raised as EdgeVitError subclasses (cli.main maps them).
"""

# Registration order is the order shown in `edgevit --help`.
COMMAND_MODULES: tuple[str, ...] = ("edgevit.commands.export", "edgevit.commands.verify", "edgevit.commands.device", "edgevit.commands.savedmodel", "edgevit.commands.bench", "edgevit.commands.report")
