"""What every command-line test checks of a refusal: exactly one line on stderr, edgevit's error line."""

from __future__ import annotations


def one_line_error(capsys) -> str:
    """The single stderr line of a refused command (asserted), for the test to match its words."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("edgevit: error: ")
    return err[0]
