"""ViT-L/32 (random weights) through `edgevit export --fit-gate`: where the weight-quantized artifacts diverge, and
the smallest precision mix that passes each gate (issue 16's must-show; issue 19's fastest passing artifact).

    # the real run (heavy: about an hour; ~10 GB peak; on a quiet machine)
    .venv/bin/python benchmarks/fit_gate_vit_l32.py
    # the whole script on the tiny ViT (a few minutes)
    .venv/bin/python benchmarks/fit_gate_vit_l32.py --smoke --work /tmp/fit-gate-smoke --results /tmp/fit-gate-smoke/results

Steps, each an edgevit command line in a child process (printed before it runs, kept in the results):
  1. savedmodel  benchmarks/export_vit_l32.py --step savedmodel: the classifier with random weights (seed 0)
  2. data        synthetic valid and test splits (--per-class images per class each) with the model's labels
  3. export      `edgevit export --recipe benchmarks/recipes/fit-gate-vit-l32.toml`: the fp32 .tflite (the size
                 budget's reference and the latency to match), and the converter's TFLite dynamic and ONNX
                 int8-dynamic artifacts, as `edgevit export` builds them without a search; and
                 recipes/fit-gate-vit-l32-aeq.toml: TFLite dynamic as the search's steps build it (AI Edge Quantizer)
  4. layers      `edgevit debug layers` of those two: where each first diverges, and which block loses most
  5. fit-tflite  `edgevit export --format tflite --quantization dynamic --fit-gate --max-size` 40% of the fp32 .tflite
  6. fit-onnx    `edgevit export --format onnx --quantization int8-dynamic --fit-gate`
  7. verify      `edgevit verify` on the test split of the fp32 .tflite, both TFLite dynamic builds, ONNX int8-dynamic
                 and each chosen artifact
  8. bench       `edgevit bench` of those, interleaved in rounds with the SavedModel, 2 threads, batch 1
Writes benchmarks/results/fit-gate-vit-l32_<machine id>_<YYYY-MM-DD>.md/.json/.records.json. A search in which no mix
passes is a result (its records and its one error line are kept), not a failure of this script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from vit_l32_cpu import CommandLog, build_savedmodel, load_average, run  # noqa: E402  (benchmarks/ is on the path above)

RESULTS = ROOT / "benchmarks" / "results"
RECIPE = ROOT / "benchmarks" / "recipes" / "fit-gate-vit-l32.toml"
AEQ_RECIPE = ROOT / "benchmarks" / "recipes" / "fit-gate-vit-l32-aeq.toml"
# The budget: the mixed artifact stays at or below 40% of the fp32 .tflite.
SIZE_SHARE = 0.40
SMOKE = {"variant": "tiny", "image_size": 32, "classes": 4, "per_class": 12, "runs": 20, "rounds": 5, "layer_images": 4}
SEARCH_EXIT_CODES = (0, 6)  # 6: no mix passes (ParityError): its records are the result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help=f"the tiny ViT end to end ({SMOKE})")
    p.add_argument("--variant", default="vit-l32")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--classes", type=int, default=250)
    # 6 x 250 = 1,500 images per split: TFLite dynamic's gate (99.5% agreement, at most 0.3 points less accurate)
    # cannot be shown passed on fewer than 1,277, even with no flips
    p.add_argument("--per-class", type=int, default=6, help="valid and test images per class (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layer-images", type=int, default=8, help="images of the layer report (default %(default)s)")
    p.add_argument("--runs", type=int, default=40, help="bench timed batch-1 calls per artifact (default %(default)s)")
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds they are split over (default %(default)s)")
    p.add_argument("--work", type=Path, default=Path("/tmp/edgevit-fit-gate-vit-l32"), help="models and scratch (default %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    p.add_argument("--reuse", action="store_true", help="skip the steps whose outputs are already in --work")
    p.add_argument("--only", choices=("tflite", "onnx"), help="search one format only")
    p.add_argument("--until", choices=("search", "verify", "bench"), default="bench",
                   help="stop after the searches, or after verify (the bench later on a quiet machine with --reuse)")
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
    python = sys.executable
    commands = CommandLog(work / "commands.json", reuse=args.reuse)
    summary = {"load_average_before": load_average(), "cores": os.cpu_count(), "variant": args.variant,
               "image_size": args.image_size, "classes": args.classes, "started": dt.datetime.now(dt.timezone.utc).isoformat(),
               "size_share": SIZE_SHARE}

    def done(path: Path) -> bool:
        return args.reuse and path.exists()

    if not done(saved_model / "saved_model.pb"):
        build_savedmodel(args, saved_model, artifacts, commands)
    labels = json.loads((saved_model / "manifest.json").read_text())["labels"]
    data = make_data(labels, args, splits=("valid", "test"))
    if not done(artifacts / "artifacts.json"):
        run("export", [python, "-m", "edgevit", "export", str(saved_model), "--out", str(artifacts), "--recipe", str(RECIPE)],
            commands)
    aeq = work / "aeq"  # TFLite dynamic as the search builds it, timed next to the converter's
    if not done(aeq / "artifacts.json"):
        run("export-aeq", [python, "-m", "edgevit", "export", str(saved_model), "--out", str(aeq), "--recipe", str(AEQ_RECIPE)],
            commands)
    float_size = json.loads((artifacts / "tflite-fp32" / "manifest.json").read_text())["file_size"]
    budget_mb = SIZE_SHARE * float_size / 1e6
    summary.update(float_tflite_bytes=float_size, max_size_mb=budget_mb)
    layers = work / "layers"
    if not done(layers / "layers.json"):
        # 40 dB, not the default 30: every boundary of these artifacts is at 33-36 dB, which already flips 3-4% of
        # this random-weight model's near-tied decisions, so 30 dB would name no divergence at all
        run("layers", [python, "-m", "edgevit", "debug", "layers", str(artifacts / "tflite-dynamic"), str(artifacts / "onnx-int8-dynamic"),
                       "--saved-model", str(saved_model), "--data", str(data), "--split", "valid", "--threshold", "40",
                       "--images", str(args.layer_images), "--out", str(layers)], commands)

    searches = {"tflite": ["--format", "tflite", "--quantization", "dynamic", "--max-size", f"{budget_mb:.3f}"],
                "onnx": ["--format", "onnx", "--quantization", "int8-dynamic"]}
    outcomes = {}
    for fmt, flags in searches.items():
        if args.only and fmt != args.only:
            continue
        out, records = work / f"fit-{fmt}", work / f"fit-{fmt}.records.json"
        if done(records):
            outcomes[fmt] = "reused"
            continue
        code = run(f"fit-{fmt}", [python, "-m", "edgevit", "export", str(saved_model), "--out", str(out), *flags, "--fit-gate",
                                  "--data", str(data), "--records", str(records)], commands, allowed=SEARCH_EXIT_CODES)
        outcomes[fmt] = "chosen" if code == 0 else "no mix passes"

    if args.until == "search":
        print(f"\nsearched; verify and bench later with --reuse --work {work}")
        return 0
    # The chosen artifacts next to the fp32 .tflite: one folder of links, so verify and bench see them as one set.
    timed = work / "timed"
    timed.mkdir(exist_ok=True)
    chosen = [work / f"fit-{fmt}" / name for fmt, name in (("tflite", "tflite-dynamic"), ("onnx", "onnx-int8-dynamic"))]
    candidates = [*(artifacts / name for name in ("tflite-fp32", "tflite-dynamic", "onnx-int8-dynamic")), aeq / "tflite-dynamic-aeq",
                  *(folder for folder in chosen if (folder / "manifest.json").is_file())]
    for folder in candidates:
        link = timed / (folder.name if folder.parent in (artifacts, aeq) else f"{folder.name}-fit-gate")
        if not link.exists():
            link.symlink_to(folder, target_is_directory=True)
    verify_records, bench_records = work / "verify-records.json", work / "bench-records.json"
    if not done(verify_records):
        run("verify", [python, "-m", "edgevit", "verify", str(timed), "--saved-model", str(saved_model), "--data", str(data),
                       "--records", str(verify_records), "--quiet"], commands, allowed=(0, 6, 8))
    if args.until == "verify":
        print(f"\nverified; bench later on a quiet machine with --reuse --work {work}")
        return 0
    if not done(bench_records):
        run("bench", [python, "-m", "edgevit", "bench", str(timed), "--saved-model", str(saved_model), "--verify",
                      str(verify_records), "--threads", "2", "--devices", "cpu", "--runs", str(args.runs), "--rounds",
                      str(args.rounds), "--batch", "2", "--batch-runs", "1", "--out", str(bench_records)], commands)

    summary["load_average_after"] = load_average()
    summary["searches"] = outcomes
    fit_files = [work / f"fit-{fmt}.records.json" for fmt in searches if (work / f"fit-{fmt}.records.json").is_file()]
    records = read_records([*fit_files, verify_records, bench_records])
    machine = fingerprint()["id"]
    stem = args.results / f"fit-gate-vit-l32{'-smoke' if args.smoke else ''}_{machine}_{dt.date.today().isoformat()}"
    write_records(stem.with_suffix(".records.json"), records)
    layers_json = json.loads((layers / "layers.json").read_text())
    atomic_write_text(stem.with_suffix(".json"), json.dumps({"summary": summary, "commands": commands, "layers": layers_json,
                                                            "records": stem.with_suffix(".records.json").name}, indent=2) + "\n")
    report = write_report(records, work / "report", title=f"ViT-L/32 mixed precision to the gate ({args.variant}) on {machine}",
                          sources=[stem.with_suffix(".records.json").name], commands=commands)
    head = [f"# {args.variant} {args.image_size}x{args.image_size}, {args.classes} classes, random weights: `--fit-gate` "
            f"against each gate", "",
            f"Load average (1, 5, 15 min) before the run: {summary['load_average_before']}, after: {summary['load_average_after']} "
            f"on {summary['cores']} logical cores. The fp32 .tflite is {float_size / 1e6:,.1f} MB; the TFLite search's size "
            f"budget is {SIZE_SHARE:.0%} of it, {budget_mb:,.1f} MB. Searches: "
            + ", ".join(f"{fmt}: {outcome}" for fmt, outcome in outcomes.items()) + ".", "",
            "## Where the quantized artifacts diverge (`edgevit debug layers`)", "",
            *(layers / "layers.md").read_text().splitlines()[1:], "", "---", ""]
    atomic_write_text(stem.with_suffix(".md"), "\n".join(head) + report.markdown.read_text())
    print(f"\nresults: {stem}.md, .json, .records.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
