"""The exit codes edgevit and the device harness share, and the harness's one error type.

One table for both sides, so a script treats `edgevit ...` and a bundle's `python3 run.py` alike;
edgevit.errors maps its error types onto these numbers.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CRASHED = 1  # anything not foreseen (a bug, a runtime crashing mid-run)
EXIT_USAGE = 2  # a bad command-line argument or option value
EXIT_DATA = 3  # data, images or golden vectors that cannot be used
EXIT_MODEL = 4  # a model, artifact or SavedModel that cannot be read, or no runtime that loads it
EXIT_EXPORT = 5  # an export that failed
EXIT_PARITY = 6  # outputs that miss their parity gate
# 7 is `edgevit demo`'s accuracy gate (edgevit.demo).
EXIT_INCONCLUSIVE = 8  # parity that the labelled split is too small to decide (a CI may treat it as a failure)
# On a device the bundle is the model's container: a bundle that cannot be used is a model error.
EXIT_BUNDLE = EXIT_MODEL


def one_line(message: str) -> str:
    """`message` on one line whatever it quotes: a line break or other control character a user typed
    (an argument, a folder name) is shown escaped, as Python writes it, instead of breaking the line.
    Both command lines (edgevit's and a bundle's run.py) print their errors through it."""
    return "".join(repr(ch)[1:-1] if not ch.isprintable() and ch != " " else ch for ch in message)


class HarnessError(Exception):
    """`status` is the record status it becomes ("failed" or "not available")."""

    def __init__(self, message: str, *, exit_code: int, status: str = "failed"):
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
