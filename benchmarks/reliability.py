"""The reliability table of the README: bad inputs tried and faults injected, by category, with outcomes.

Runs the fuzz and fault suites (tests/**/test_fuzz_*.py, tests/**/test_fault_*.py, slow ones included),
counts the inputs each one tried (Hypothesis' own statistics for property tests, 1 per plain test
case) and prints a Markdown table; with --write, also saves it under benchmarks/results/.

    .venv/bin/python benchmarks/reliability.py [--profile long] [--write]

An outcome is "ok" only when every input of the category ended in a correct result or one clear
error line, as its test asserts; a failing test shows as "FAILED" with its count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from edgevit.portable.machine import fingerprint as machine_fingerprint

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("tests/**/test_fuzz_*.py", "tests/**/test_fault_*.py")
_STATS = re.compile(r"^(tests/\S+?)::(\S+?):\s*$")
_COUNTS = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")


def _category(test_file: str, test_name: str) -> str:
    """'test_fuzz_data.py::test_symlink_loop_is_a_clear_error[x]' -> 'fuzz data: symlink loop is a clear error'."""
    area = Path(test_file).stem.removeprefix("test_").replace("_", " ")
    name = test_name.split("[")[0].removeprefix("test_").replace("_", " ")
    return f"{area}: {name}"


def _hypothesis_examples(output: str) -> dict[tuple[str, str], int]:
    counts, current = {}, None
    for line in output.splitlines():
        if (m := _STATS.match(line.strip())) is not None:
            current = (m.group(1), m.group(2))
        elif current and (m := _COUNTS.search(line)) is not None:
            counts[current] = counts.get(current, 0) + int(m.group(1)) + int(m.group(2))
    return counts


def run(profile: str) -> list[dict]:
    files = sorted(str(p.relative_to(ROOT)) for pattern in SUITES for p in ROOT.glob(pattern))
    junit = ROOT / ".reliability-junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *files, "-m", "", "-p", "no:cacheprovider", "-q", f"--hypothesis-profile={profile}",
         "--hypothesis-show-statistics", f"--junitxml={junit}"],
        cwd=ROOT, capture_output=True, text=True,
    )
    examples = _hypothesis_examples(proc.stdout)
    rows: dict[str, dict] = defaultdict(lambda: {"inputs": 0, "failed": 0, "skipped": 0, "cases": 0})
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_file = case.get("classname", "").replace(".", "/") + ".py"
        name = case.get("name", "")
        row = rows[_category(test_file, name)]
        row["cases"] += 1
        row["inputs"] += examples.get((test_file, name), 1)
        row["failed"] += int(case.find("failure") is not None or case.find("error") is not None)
        row["skipped"] += int(case.find("skipped") is not None)
    junit.unlink(missing_ok=True)
    return [{"category": k, **v} for k, v in sorted(rows.items())]


def to_markdown(rows: list[dict], profile: str) -> str:
    lines = [
        f"Measured {dt.date.today().isoformat()} on {machine_fingerprint()['id']} with "
        f"`.venv/bin/python benchmarks/reliability.py --profile {profile}`.",
        "",
        "| category | inputs / faults tried | outcome |",
        "|---|---:|---|",
    ]
    for row in rows:
        if row["failed"]:
            outcome = f"FAILED ({row['failed']} of {row['cases']} test cases)"
        elif row["skipped"] == row["cases"]:
            outcome = "skipped (see pytest -rs)"
        else:
            outcome = "ok: correct result or one clear error line"
        lines.append(f"| {row['category']} | {row['inputs']} | {outcome} |")
    total = sum(r["inputs"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    lines += ["", f"Total: {total} inputs and faults, {failed} failing test cases."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default", choices=("default", "long"), help="Hypothesis profile (tests/conftest.py)")
    parser.add_argument("--write", action="store_true", help="also write benchmarks/results/reliability-<machine>-<date>.md")
    args = parser.parse_args()
    rows = run(args.profile)
    table = to_markdown(rows, args.profile)
    print(table, end="")
    if args.write:
        out = ROOT / "benchmarks" / "results" / f"reliability-{machine_fingerprint()['id']}-{dt.date.today().isoformat()}.md"
        tmp = out.with_suffix(".md.tmp")
        tmp.write_text(table)
        tmp.replace(out)
        print(f"wrote {out.relative_to(ROOT)}")
    return 1 if any(r["failed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
