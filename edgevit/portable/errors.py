"""The harness's one error type: a one-line message and the exit code it maps to."""

from __future__ import annotations


class HarnessError(Exception):
    """`status` is the record status it becomes ("failed" or "not available")."""

    def __init__(self, message: str, *, exit_code: int, status: str = "failed"):
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
