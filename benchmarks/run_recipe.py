"""Export -> verify -> bench -> report for one recipe; results named by machine and date.

    python benchmarks/run_recipe.py export/demo.toml --saved-model runs/demo/train/saved_model
    flock /tmp/edgevit-heavy.lock python benchmarks/run_recipe.py export/birds-vit-l32.toml \\
        --saved-model /tmp/vit-l32/saved_model --threads 2 --runs 15 --warmup 3

Each step is the edgevit command line, run as a child process and printed before it runs, so the
results say exactly how they were made. A failed export or a parity failure does not stop the run:
they are statuses in the results ("export failed", "parity failed"), not missing rows. Writes

    benchmarks/results/<recipe>_<machine id>_<YYYY-MM-DD>.json   every record (edgevit/schemas/record-v1.schema.json)
    benchmarks/results/<recipe>_<machine id>_<YYYY-MM-DD>.md     the table, with the commands
    benchmarks/results/<recipe>_<machine id>_<YYYY-MM-DD>.html   the page with plots

and leaves the artifacts and intermediate files in --work (default /tmp/edgevit-bench/<recipe>).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def run(step: str, argv: list[str], commands: list[str], *, allowed_exit_codes: tuple[int, ...] = (0,)) -> int:
    """Run `edgevit ARGV` in a child process; keep its command line for the results."""
    command = shlex.join(["edgevit", *argv])
    commands.append(command)
    print(f"\n[{step}] {command}", flush=True)
    code = subprocess.call([sys.executable, "-m", "edgevit", *argv])
    if code not in allowed_exit_codes:
        raise SystemExit(f"[{step}] failed with exit code {code}; see the output above")
    if code:
        print(f"[{step}] exit code {code}: recorded as a status in the results, continuing", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recipe", help="export recipe TOML (export/*.toml)")
    parser.add_argument("--saved-model", required=True, help="the SavedModel to export (saved_model/ of `edgevit train`)")
    parser.add_argument("--work", help="folder for the artifacts and verify output (default /tmp/edgevit-bench/<recipe>)")
    parser.add_argument("--data", help="labelled data ROOT for verify (default: the one in the SavedModel's manifest)")
    parser.add_argument("--max-images", type=int, help="verify on at most this many test images")
    parser.add_argument("--skip-export", action="store_true", help="reuse the artifacts already in --work")
    parser.add_argument("--threads", default="1,2", help="bench thread counts (default %(default)s)")
    parser.add_argument("--devices", default="cpu,gpu", help="bench devices (default %(default)s)")
    parser.add_argument("--runs", default="50", help="bench timed runs (default %(default)s)")
    parser.add_argument("--warmup", default="5", help="bench warm-up runs (default %(default)s)")
    parser.add_argument("--batch", default="8", help="bench throughput batch (default %(default)s)")
    parser.add_argument("--batch-runs", default="10", help="bench timed runs at --batch (default %(default)s)")
    parser.add_argument("--results", default=str(RESULTS), help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)

    from edgevit.fsutil import atomic_write_text
    from edgevit.portable.machine import fingerprint as machine_fingerprint
    from edgevit.recipes import load_recipe
    from edgevit.records import read_records, write_records
    from edgevit.report import write_report

    recipe = load_recipe(args.recipe)
    work = Path(args.work or f"/tmp/edgevit-bench/{recipe.name}")
    artifacts, verify_records, bench_records = work / "artifacts", work / "verify-records.json", work / "bench-records.json"
    work.mkdir(parents=True, exist_ok=True)
    commands: list[str] = []

    if not args.skip_export:
        # exit 0: all built; other codes: some artifacts failed, which artifacts.json records for bench.
        run("export", ["export", args.saved_model, "--out", str(artifacts), "--recipe", args.recipe],
            commands, allowed_exit_codes=tuple(range(0, 8)))
    verify = ["verify", str(artifacts), "--saved-model", args.saved_model, "--recipe", args.recipe, "--records", str(verify_records),
              "--quiet"]
    verify += ["--data", args.data] if args.data else []
    verify += ["--max-images", str(args.max_images)] if args.max_images else []
    # 6: some artifact failed its parity gate; 8: some verdict is inconclusive or an artifact cannot be verified here
    verify_code = run("verify", verify, commands, allowed_exit_codes=(0, 6, 8))
    bench = ["bench", str(artifacts), "--saved-model", args.saved_model, "--verify", str(verify_records),
             "--threads", args.threads, "--devices", args.devices, "--runs", args.runs, "--warmup", args.warmup,
             "--batch", args.batch, "--batch-runs", args.batch_runs, "--out", str(bench_records)]
    run("bench", bench, commands)

    records = read_records([verify_records, bench_records])
    for record in records:  # verify records do not carry their command line: attach it
        if record["kind"] == "verify" and not record.get("command"):
            record["command"] = commands[-2]
    machine = machine_fingerprint()["id"]
    stem = Path(args.results) / f"{recipe.name}_{machine}_{dt.date.today().isoformat()}"
    write_records(stem.with_suffix(".json"), records)
    paths = write_report(records, work / "report", title=f"edgevit benchmark: recipe {recipe.name} on {machine}",
                         sources=[stem.with_suffix(".json").name], commands=commands)
    atomic_write_text(stem.with_suffix(".md"), paths.markdown.read_text())
    atomic_write_text(stem.with_suffix(".html"), paths.html.read_text())
    print(f"\nresults: {stem}.json, .md, .html" + (" (some artifacts failed their parity gate: see the table)" if verify_code else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
