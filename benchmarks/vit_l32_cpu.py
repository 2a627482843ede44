"""ViT-L/32 at the limit of this CPU: build the SavedModel (random weights), export every candidate, verify them
against their gates, bench them interleaved, and write ONE results file with the roofline (issue 19).

    # the real run (heavy: ~1 h, ~12 GB peak; on a quiet machine, under the shared lock)
    flock /tmp/edgevit-heavy.lock nice -n 0 .venv/bin/python benchmarks/vit_l32_cpu.py --threads 2
    # a smoke run of the whole script on the tiny ViT (a minute or two)
    .venv/bin/python benchmarks/vit_l32_cpu.py --smoke --work /tmp/vit-l32-cpu-smoke --results /tmp/vit-l32-cpu-smoke/results

Steps, each the edgevit command line in a child process (printed before it runs, kept in the results):
  1. savedmodel  benchmarks/export_vit_l32.py --step savedmodel: the classifier with random weights
  2. data        a synthetic test split whose class folders carry the model's labels (benchmarks/verify_vit_l32.py)
  3. export      `edgevit export --recipe benchmarks/recipes/vit-l32-cpu-limit.toml`: every CPU candidate
  4. verify      `edgevit verify`, each artifact against its mode's gate (exit 6 = some failed: recorded, not fatal)
  5. bench       `edgevit bench` with the SavedModel: interleaved rounds, p50 intervals, disturbed flags,
                 GEMM peaks of every runtime's kernel, memory bandwidth, roofline, and each runtime setting of
                 SETTINGS as an extra row (the SavedModel under XLA and without oneDNN, ORT basic/no spinning, ...)
Writes benchmarks/results/vit-l32-cpu-limit_<machine id>_<YYYY-MM-DD>.json (every record plus a summary with the
load average before and after) and .md (the roofline table, then edgevit's report). Models stay under --work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

RESULTS = ROOT / "benchmarks" / "results"
RECIPE = ROOT / "benchmarks" / "recipes" / "vit-l32-cpu-limit.toml"
# Runtime settings measured as extra rows next to each runtime's defaults (edgevit bench --setting): the SavedModel's
# own XLA and oneDNN switches for an honest baseline, ORT's graph optimization level and spinning, LiteRT's newest
# XNNPACK kernels. (XNNPACK's weight cache is not reachable from LiteRT's Python interpreter: no such option.)
SETTINGS = ("savedmodel:jit_compile=true", "savedmodel:onednn=false", "onnxruntime:graph_optimization=basic",
            "onnxruntime:spinning=false", "litert:xnnpack_latest=true")
# Every bench row is a live worker holding its model through the interleaved rounds, and a runtime setting adds a
# row per artifact of that runtime: all of SETTINGS is 21 ViT-L/32 sessions, more than 24 GiB holds. The default
# keeps the SavedModel's own settings (the honest baseline: 10 sessions); --settings all measures the rest too.
DEFAULT_SETTINGS = ("savedmodel:jit_compile=true", "savedmodel:onednn=false")
SMOKE = {"variant": "tiny", "image_size": 32, "classes": 4, "per_class": 3, "runs": 20, "rounds": 5, "batch": 2,
         "batch_runs": 2}


class CommandLog(list):
    """The command lines of every step, kept in a file so that a --reuse run still names the steps it reuses."""

    def __init__(self, path: Path, *, reuse: bool):
        super().__init__(json.loads(path.read_text()) if reuse and path.is_file() else [])
        self.path = path

    def add(self, command: str) -> None:
        self.append(command)
        self.path.write_text(json.dumps(self, indent=2) + "\n")


def run(step: str, argv: list[str], commands: CommandLog, *, allowed: tuple[int, ...] = (0,)) -> int:
    command = shlex.join(argv)
    print(f"\n[{step}] {command}", flush=True)
    code = subprocess.call(argv, cwd=ROOT)
    commands.add(command.replace(sys.executable, "python"))
    if code not in allowed:
        raise SystemExit(f"[{step}] failed with exit code {code}; see the output above")
    return code


def build_savedmodel(args, saved_model: Path, artifacts: Path, commands: CommandLog) -> None:
    """The classifier with random weights (args: variant, image_size, classes, seed), by benchmarks/export_vit_l32.py."""
    run("savedmodel", [sys.executable, str(ROOT / "benchmarks" / "export_vit_l32.py"), "--step", "savedmodel", "--saved-model",
                       str(saved_model), "--out", str(artifacts), "--variant", args.variant, "--image-size",
                       str(args.image_size), "--classes", str(args.classes), "--seed", str(args.seed)], commands)


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def roofline_rows(records: list[dict]) -> list[dict]:
    """One row per ok bench record: p50 with its interval, the disturbed flag, speed-up, bound and share, gate."""
    verify = {r["artifact"]["name"]: r for r in records if r["kind"] == "verify" and r.get("artifact")}
    rows = []
    for r in records:
        if r["kind"] != "bench" or not r.get("latency"):
            continue
        lat, comp = r["latency"], r.get("compute") or {}
        parity = r.get("parity") or (verify.get(r["artifact"]["name"]) or {}).get("parity") or {}
        rows.append({
            "artifact": r["artifact"]["name"], "runtime": r["runtime"]["name"], "threads": r["runtime"]["threads"],
            "settings": (r["runtime"].get("details") or {}).get("settings"),
            "p50_ms": lat["p50_ms"], "p50_interval_ms": lat.get("p50_interval_ms"),
            "disturbed": (lat.get("stability") or {}).get("disturbed"),
            "reasons": (lat.get("stability") or {}).get("reasons", []),
            "speedup": (lat.get("speedup") or {}).get("ratio"), "speedup_interval": (lat.get("speedup") or {}).get("interval"),
            "bound": comp.get("bound"), "fraction_of_roofline": comp.get("fraction_of_roofline"),
            "compute_floor_ms": comp.get("compute_floor_ms"), "memory_floor_ms": comp.get("memory_floor_ms"),
            "fraction_of_float32_peak": comp.get("fraction_of_float32_peak"),
            # passed / parity failed / inconclusive, as verify judged it (no verdict: not verified)
            "gate": None if r["artifact"]["format"] == "savedmodel" else parity.get("verdict", "not verified"),
            "peak_rss_bytes": (r.get("memory") or {}).get("peak_rss_bytes"),
            "runtime_import_bytes": (r.get("memory") or {}).get("runtime_import_bytes"),
            "model_bytes": (r.get("memory") or {}).get("model_bytes"),
        })
    return sorted(rows, key=lambda row: (row["threads"] or 0, row["p50_ms"]))


def roofline_markdown(rows: list[dict], summary: dict) -> list[str]:
    def ms(v):
        return "–" if v is None else f"{v:.2f}" if v < 100 else f"{v:.1f}"

    def mb(v):
        return "–" if v is None else f"{v / 1e6:,.0f}"

    lines = [f"Load average (1, 5, 15 min) before the run: {summary['load_average_before']}, after: "
             f"{summary['load_average_after']} on {summary['cores']} logical cores.", "",
             "| threads | artifact | p50 ms [95% interval] | timing | speed-up vs SavedModel | bound (% of its floor) | "
             "compute / memory floor ms | gate | peak RSS MB (import + model) |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        interval = row["p50_interval_ms"]
        p50 = ms(row["p50_ms"]) + (f" [{ms(interval[0])}–{ms(interval[1])}]" if interval else "")
        speed = "–" if row["speedup"] is None else f"{row['speedup']:.2f}x" + (
            f" [{row['speedup_interval'][0]:.2f}–{row['speedup_interval'][1]:.2f}]" if row["speedup_interval"] else "")
        bound = "–" if row["bound"] is None else f"{row['bound']} {100 * row['fraction_of_roofline']:.0f}%"
        gate = {"pass": "pass", "fail": "FAIL", None: "reference"}.get(row["gate"], row["gate"])
        timing = "⚠️ disturbed" if row["disturbed"] else "quiet"
        floors = f"{ms(row['compute_floor_ms'])} / {ms(row['memory_floor_ms'])}"
        rss = f"{mb(row['peak_rss_bytes'])} ({mb(row['runtime_import_bytes'])} + {mb(row['model_bytes'])})"
        name = row["artifact"] + (" (" + ", ".join(f"{k}={v}" for k, v in row["settings"].items()) + ")" if row["settings"] else "")
        lines.append(f"| {row['threads']} | {name} | {p50} | {timing} | {speed} | {bound} | {floors} | {gate} | {rss} |")
    disturbed = [f"- {row['artifact']} x{row['threads']}: {'; '.join(row['reasons'])}" for row in rows if row["disturbed"]]
    return lines + ([""] + disturbed if disturbed else [])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help=f"the tiny ViT end to end ({SMOKE})")
    p.add_argument("--variant", default="vit-l32")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--classes", type=int, default=250)
    # 3 x 250 = 750 images: enough to show a 99.5% agreement limit with 0 flips (736 is the least); the 0.3-point
    # accuracy limit of the same gates needs 1,277, about an hour more at ~0.4 s per image per artifact
    p.add_argument("--per-class", type=int, default=3, help="synthetic test images per class for verify (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", default="2", help="bench thread counts (default %(default)s)")
    p.add_argument("--runs", type=int, default=60, help="bench timed batch-1 calls per artifact (default %(default)s)")
    p.add_argument("--rounds", type=int, default=12, help="interleaved rounds they are split over (default %(default)s)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--batch-runs", type=int, default=3)
    p.add_argument("--recipe", default=str(RECIPE))
    p.add_argument("--work", type=Path, default=Path("/tmp/edgevit-vit-l32-cpu"), help="models and scratch (default %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    p.add_argument("--settings", default="savedmodel", choices=("savedmodel", "all", "none"),
                   help="runtime settings benched as extra rows: the SavedModel's XLA and oneDNN switches (default), all of "
                        "them, or none")
    p.add_argument("--reuse", action="store_true", help="keep the SavedModel, artifacts and verify records already in --work")
    p.add_argument("--until", choices=("verify", "bench"), default="bench",
                   help="stop after this step (verify: build and judge now, bench later on a quiet machine with --reuse)")
    args = p.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)

    from edgevit.fsutil import atomic_write_text
    from edgevit.portable.machine import fingerprint
    from edgevit.records import read_records, write_records
    from edgevit.report import write_report
    from verify_vit_l32 import make_data

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    saved_model, artifacts = work / "saved_model", work / "artifacts"
    verify_records, bench_records = work / "verify-records.json", work / "bench-records.json"
    python = sys.executable
    commands = CommandLog(work / "commands.json", reuse=args.reuse)
    summary_reused = [step for step, done in (("savedmodel", (saved_model / "saved_model.pb").is_file()),
                                              ("export", (artifacts / "artifacts.json").is_file()),
                                              ("verify", verify_records.is_file())) if args.reuse and done]
    # load_average_before: before this invocation's first step
    summary = {"load_average_before": load_average(), "cores": os.cpu_count(), "variant": args.variant,
               "image_size": args.image_size, "classes": args.classes, "started": dt.datetime.now(dt.timezone.utc).isoformat()}

    if not (args.reuse and (saved_model / "saved_model.pb").is_file()):
        build_savedmodel(args, saved_model, artifacts, commands)
    labels = json.loads((saved_model / "manifest.json").read_text())["labels"]
    data = make_data(labels, args)
    if not (args.reuse and (artifacts / "artifacts.json").is_file()):
        run("export", [python, "-m", "edgevit", "export", str(saved_model), "--out", str(artifacts), "--recipe", args.recipe],
            commands, allowed=tuple(range(0, 8)))  # a failed artifact is a status in artifacts.json, benched as such
    if not (args.reuse and verify_records.is_file()):
        run("verify", [python, "-m", "edgevit", "verify", str(artifacts), "--saved-model", str(saved_model), "--data", str(data),
                       "--recipe", args.recipe, "--records", str(verify_records), "--quiet"],
            commands, allowed=(0, 6, 8))  # 6: a gate failed, 8: inconclusive or unverifiable: both are results
    settings = {"savedmodel": DEFAULT_SETTINGS, "all": SETTINGS, "none": ()}[args.settings]
    if args.until == "verify":
        print(f"\nverified; bench later with --reuse --work {work}")
        return 0
    run("bench", [python, "-m", "edgevit", "bench", str(artifacts), "--saved-model", str(saved_model), "--verify",
                  str(verify_records), "--threads", args.threads, "--devices", "cpu", "--runs", str(args.runs), "--rounds",
                  str(args.rounds), "--batch", str(args.batch), "--batch-runs", str(args.batch_runs), "--out", str(bench_records),
                  *(part for setting in settings for part in ("--setting", setting))],
        commands)

    # The dense layers alone at the model's own shapes, in each runtime's kernel, in this same run: how much of
    # the square GEMM peak batch-1 shapes give, and what is left for the rest of the model (benchmarks/gemm_shapes.py).
    from gemm_shapes import markdown as shapes_markdown
    from gemm_shapes import measure as measure_shapes

    threads = [int(t) for t in str(args.threads).split(",")]
    print(f"\n[gemm shapes] {args.variant} dense layers at batch 1, each runtime kernel, {threads} thread(s)", flush=True)
    shapes = [measure_shapes(args.variant, image_size=args.image_size, classes=args.classes, threads=t) for t in threads]
    summary["load_average_after"] = load_average()
    summary["steps_from_an_earlier_invocation"] = summary_reused  # their timings are not part of this run's figures
    records = read_records([verify_records, bench_records])
    verify_command = next((c for c in commands if " -m edgevit verify " in c), None)
    for record in records:
        if record["kind"] == "verify" and not record.get("command"):
            record["command"] = verify_command
    machine = fingerprint()["id"]
    stem = args.results / f"vit-l32-cpu-limit{'-smoke' if args.smoke else ''}_{machine}_{dt.date.today().isoformat()}"
    rows = roofline_rows(records)
    write_records(stem.with_suffix(".records.json"), records)
    atomic_write_text(stem.with_suffix(".json"), json.dumps({"summary": summary, "commands": commands, "roofline": rows,
                                                            "gemm_shapes": shapes,
                                                            "records": stem.with_suffix(".records.json").name}, indent=2) + "\n")
    report = write_report(records, work / "report", title=f"ViT-L/32 at the CPU limit ({args.variant}) on {machine}",
                          sources=[stem.with_suffix(".records.json").name], commands=commands)
    head = [f"# {args.variant} {args.image_size}x{args.image_size}, {args.classes} classes, random weights: every CPU candidate "
            f"against this machine's roofline", "", *roofline_markdown(rows, summary), "",
            *(line for result in shapes for line in [*shapes_markdown(result), ""]), "---", ""]
    atomic_write_text(stem.with_suffix(".md"), "\n".join(head) + report.markdown.read_text())
    print(f"\nresults: {stem}.json, .records.json, .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
