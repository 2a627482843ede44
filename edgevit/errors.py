"""The few error types edgevit raises on purpose; each maps to one exit code.

Messages are one line that says what was wrong and what to do. The CLI prints them without a
traceback; anything else escaping is a bug.
"""


class EdgeVitError(Exception):
    """Base class. `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(EdgeVitError):
    """A bad command-line argument or option value."""

    exit_code = 2


class DataError(EdgeVitError):
    """A data folder or image that cannot be used."""

    exit_code = 3


class ModelError(EdgeVitError):
    """A model, weights file or SavedModel that cannot be built, read or written."""

    exit_code = 4


class ExportError(EdgeVitError):
    """An export that failed."""

    exit_code = 5


class ParityError(EdgeVitError):
    """An artifact whose outputs do not match the reference within its gate."""

    exit_code = 6
