"""The few error types edgevit raises on purpose; each maps to one exit code.

Messages are one line that says what was wrong and what to do. The CLI prints them without a
traceback; anything else escaping is a bug. The numbers are the table the device harness uses too
(edgevit.portable.errors), so scripts treat both alike.
"""

from edgevit.portable.errors import EXIT_CRASHED, EXIT_DATA, EXIT_EXPORT, EXIT_INCONCLUSIVE, EXIT_MODEL, EXIT_PARITY, EXIT_USAGE


class EdgeVitError(Exception):
    """Base class. `exit_code` is what the CLI exits with."""

    exit_code = EXIT_CRASHED


class UsageError(EdgeVitError):
    """A bad command-line argument or option value."""

    exit_code = EXIT_USAGE


class DataError(EdgeVitError):
    """A data folder or image that cannot be used."""

    exit_code = EXIT_DATA


class ModelError(EdgeVitError):
    """A model, weights file or SavedModel that cannot be built, read or written."""

    exit_code = EXIT_MODEL


class ExportError(EdgeVitError):
    """An export that failed."""

    exit_code = EXIT_EXPORT


class ParityError(EdgeVitError):
    """An artifact whose outputs do not match the reference within its gate."""

    exit_code = EXIT_PARITY


class InconclusiveError(EdgeVitError):
    """Parity the labelled split is too small to decide either way (the message says how many images would)."""

    exit_code = EXIT_INCONCLUSIVE
