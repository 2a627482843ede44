"""Library code never prints: it logs, and the CLI (edgevit.console) decides what the user sees."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "edgevit"

# Where printing is the job: the CLI, and process entry points whose stdout/stderr is their output.
ALLOWED = (
    "cli.py",
    "commands/",
    "portable/main.py",  # the device harness's own command line
    "exporters/worker.py",  # the export child: its output is OUT/logs/<name>.log
    "training/crosscheck.py",  # `python -m edgevit.training.crosscheck`: one JSON result line per run on stdout
)


def _print_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]


def _allowed(relative: str) -> bool:
    return any(relative == entry or (entry.endswith("/") and relative.startswith(entry)) for entry in ALLOWED)


def test_no_library_module_calls_print():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if not _allowed(relative):
            offenders += [f"edgevit/{relative}:{line}" for line in _print_calls(path)]
    assert offenders == [], "log through logging.getLogger(__name__) instead: " + ", ".join(offenders)


def test_the_scan_sees_print_calls_and_the_allowed_list_exists(tmp_path):
    """The check above would pass vacuously if the scan missed calls or an allowed path had moved."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f(x):\n    print(x)\n    return [print(y) for y in x]\n")
    assert _print_calls(sample) == [2, 3]
    for entry in ALLOWED:
        assert (PACKAGE / entry).exists(), entry
    assert _print_calls(PACKAGE / "cli.py")  # the CLI does print: the scan finds it
