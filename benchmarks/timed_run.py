"""One process under `/usr/bin/time -v`: wall time, CPU time and peak RSS as GNU time measured them.

Shared by the ViT-L/32 export and verify benchmarks (run as scripts: their folder is on sys.path).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path


def timed(command: list[str], log: Path) -> dict:
    """Run `command` under /usr/bin/time -v; its stdout and stderr go to `log`. Returns what time measured."""
    report = log.with_suffix(".time")
    load = os.getloadavg()[0]  # other work on the machine stretches wall time (not peak RSS)
    with open(log, "w") as out:
        completed = subprocess.run(["/usr/bin/time", "-v", "-o", str(report), *command], stdout=out, stderr=subprocess.STDOUT)
    text = report.read_text()

    def field(label: str) -> str:
        match = re.search(rf"^\s*{re.escape(label)}: (.+)$", text, re.MULTILINE)
        return match.group(1).strip() if match else ""

    return {
        "exit_code": completed.returncode,
        "wall_seconds": round(clock_seconds(field("Elapsed (wall clock) time (h:mm:ss or m:ss)")), 2),
        "user_seconds": float(field("User time (seconds)") or 0),
        "system_seconds": float(field("System time (seconds)") or 0),
        "peak_rss_bytes": int(field("Maximum resident set size (kbytes)") or 0) * 1024,
        "load_average_1min_before": round(load, 2),
        "log": str(log),
    }


def clock_seconds(text: str) -> float:
    """'1:02:03.5' or '2:03.5' (GNU time's elapsed format) in seconds."""
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part or 0)
    return seconds


def invocation(script: str, argv: list[str]) -> str:
    """How this benchmark was started, as a shell line a reader can rerun from the repository root."""
    root = Path(__file__).resolve().parents[1]
    python = Path(sys.executable)
    try:
        python = python.relative_to(root)  # .venv/bin/python, not the absolute path of this checkout
    except ValueError:
        pass
    return shlex.join([str(python), str(Path(script).resolve().relative_to(root)), *argv])
