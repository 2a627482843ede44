"""What an edgevit process shows: edgevit's own log lines as plain text, third-party noise filtered.

Library modules never print: they log to `logging.getLogger(__name__)` (under the `edgevit` logger).
The CLI calls `configure` once per command; edgevit's own child processes (the export worker, the
bench's spawned measurements) call `configure_from_environment` and so follow the CLI's choice,
which reaches them through EDGEVIT_VERBOSITY. This is the one place that decides what the user sees.

    quiet    edgevit and third parties: warnings and errors only
    default  edgevit: progress (INFO); third parties: warnings, less the known noise below
    verbose  edgevit: debug detail too; third parties: INFO and up, noise included

Progress and notes go to stdout (where edgevit printed them before it logged them); warnings and
errors go to stderr.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import re
import sys
import tempfile

VERBOSITY_ENV = "EDGEVIT_VERBOSITY"
ROOT_LOGGER = "edgevit"


class Verbosity(enum.Enum):
    QUIET = "quiet"
    DEFAULT = "default"
    VERBOSE = "verbose"


# (edgevit's threshold, third parties' threshold) per verbosity.
_THRESHOLDS = {
    Verbosity.QUIET: (logging.WARNING, logging.WARNING),
    Verbosity.DEFAULT: (logging.INFO, logging.WARNING),
    Verbosity.VERBOSE: (logging.DEBUG, logging.INFO),
}

# Third-party log records that say nothing about the model; hidden unless --verbose.
_NOISE = {
    # coremltools on Linux has no Core ML runtime and says so at every import, once per proxy class,
    # and warns that the installed TensorFlow / scikit-learn are newer than it was tested with.
    "coremltools": re.compile(r"Failed to load _ML\w*Proxy|version \S+ (is not supported|has not been tested)"),
}

# C++ libraries write to file descriptor 2 directly, past Python's logging.
_NATIVE_NOISE = re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$")

# TensorFlow's C++ INFO lines (absl): 2 keeps its warnings out too, as edgevit always did; read once, at import.
_TF_CPP_MIN_LOG_LEVEL = {Verbosity.QUIET: "2", Verbosity.DEFAULT: "2", Verbosity.VERBOSE: "0"}


def _is_edgevit(name: str) -> bool:
    return name == ROOT_LOGGER or name.startswith(ROOT_LOGGER + ".")


class _Lines(logging.Formatter):
    """edgevit's records as their bare message; a third party's with its level and logger name."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if _is_edgevit(record.name):
            return record.message
        return f"{record.levelname}:{record.name}:{record.message}"


class ConsoleHandler(logging.Handler):
    """Progress on stdout, warnings and errors on stderr; the streams are looked up at each line
    (so a redirected or captured sys.stdout is honoured)."""

    def __init__(self, verbosity: Verbosity):
        super().__init__()
        self.verbosity = verbosity
        self.setFormatter(_Lines())

    def filter(self, record: logging.LogRecord) -> bool:
        ours, theirs = _THRESHOLDS[self.verbosity]
        if record.levelno < (ours if _is_edgevit(record.name) else theirs):
            return False
        if self.verbosity is Verbosity.VERBOSE:
            return True
        noise = _NOISE.get(record.name.split(".")[0])
        return not (noise and noise.search(record.getMessage()))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout if record.levelno < logging.WARNING else sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging's contract: a failed line must not stop the program
            self.handleError(record)


def configure(verbosity: Verbosity) -> None:
    """Show this process's log records at `verbosity`; child processes started from now on follow it."""
    os.environ[VERBOSITY_ENV] = verbosity.value
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", _TF_CPP_MIN_LOG_LEVEL[verbosity])  # a user's own setting wins
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, ConsoleHandler)]:
        root.removeHandler(handler)  # configured again (the CLI called twice in one process): replace, not add
    root.addHandler(ConsoleHandler(verbosity))
    ours, theirs = _THRESHOLDS[verbosity]
    root.setLevel(theirs)
    logging.getLogger(ROOT_LOGGER).setLevel(ours)


def configured_verbosity() -> Verbosity | None:
    """The verbosity the CLI chose for this process tree; None when no edgevit CLI started it."""
    value = os.environ.get(VERBOSITY_ENV)
    try:
        return Verbosity(value) if value else None
    except ValueError:
        return None


def configure_from_environment() -> None:
    """In an edgevit child process: the CLI's verbosity; the default when started by hand."""
    configure(configured_verbosity() or Verbosity.DEFAULT)


@contextlib.contextmanager
def native_noise_filtered():
    """Around a native call known to print a banner on fd 2: pass on everything it writes there but
    the banner. Only when the CLI configured this process tree below --verbose; otherwise a no-op.

    The output is held until the block ends, so use it around short calls (loading a model), not
    around work whose progress or crash report the user must see as it happens.
    """
    verbosity = configured_verbosity()
    if verbosity is None or verbosity is Verbosity.VERBOSE:
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode(errors="replace").splitlines(keepends=True)
                    if not _NATIVE_NOISE.match(line.rstrip("\n"))]
            if kept:
                os.write(2, "".join(kept).encode())
