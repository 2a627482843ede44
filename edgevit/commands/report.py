"""`edgevit report`: records files -> records.json, report.md and a self-contained report.html."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="records -> Markdown table and an HTML page with plots",
                              description="Reads records files from `edgevit bench`, `edgevit verify`, the device harness "
                                          "or the iOS app (any mix, any machines) and writes OUT/records.json, "
                                          "OUT/report.md and OUT/report.html, replacing an earlier report folder (one holding nothing else).")
    p.add_argument("records", nargs="+", metavar="RECORDS", help="records files (edgevit/schemas/record-v1.schema.json)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--title", default=None, help="page title (default: 'edgevit benchmark report')")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from edgevit.outputs import REPORT, Output, check_outputs
    from edgevit.records import read_records
    from edgevit.report import TITLE, write_report

    check_outputs([Output("--out", args.out, REPORT, replace=False)], inputs=args.records)
    records = read_records(args.records)
    paths = write_report(records, args.out, title=args.title or TITLE, sources=list(args.records))
    print(f"{len(records)} records -> {paths.markdown} and {paths.html}")
    return 0
