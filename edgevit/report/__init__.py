"""Records -> a report folder: records.json (every record, schema-checked), report.md and report.html.

    from edgevit.report import write_report
    paths = write_report(records, "runs/demo/report")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from edgevit.fsutil import atomic_write_text
from edgevit.outputs import REPORT, prepare_dir
from edgevit.records import write_records
from edgevit.report.fitgate import fit_searches
from edgevit.report.html import render_html
from edgevit.report.markdown import render_markdown
from edgevit.report.rows import build_peaks, build_rows, build_support, gate_lines, machines

TITLE = "edgevit benchmark report"


@dataclass(frozen=True)
class ReportPaths:
    records: Path
    markdown: Path
    html: Path


def write_report(records: Iterable[dict], out_dir: Path | str, *, title: str = TITLE, sources: Iterable[str] = (),
                 commands: Iterable[str] = ()) -> ReportPaths:
    """Write records.json, report.md and report.html into `out_dir` (each atomically); return their paths.

    `commands`: the exact command lines that produced the records, listed in both reports.
    """
    records, commands = list(records), list(commands)
    out = prepare_dir(out_dir, REPORT)  # new, empty or an earlier report: never someone else's report.md
    rows, peaks, by_machine, sources = build_rows(records), build_peaks(records), machines(records), list(sources)
    support = build_support(records)
    paths = ReportPaths(out / "records.json", out / "report.md", out / "report.html")
    write_records(paths.records, records)
    gates, searches = gate_lines(records), fit_searches(records)
    atomic_write_text(paths.markdown, render_markdown(rows, peaks, by_machine, title=title, sources=sources, commands=commands,
                                                      gates=gates, support=support, searches=searches))
    atomic_write_text(paths.html, render_html(rows, peaks, by_machine, title=title, sources=sources, commands=commands,
                                              gates=gates, support=support, searches=searches))
    return paths
