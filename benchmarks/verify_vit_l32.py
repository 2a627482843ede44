"""`edgevit verify` at ViT-L/32 scale: TFLite dynamic, ONNX fp32 and Core ML fp16 (emulated) against the
SavedModel on a 250-class synthetic split at 224x224, with the table committed to benchmarks/results/.

    flock /tmp/edgevit-heavy.lock .venv/bin/python benchmarks/verify_vit_l32.py          # ~15 min
    .venv/bin/python benchmarks/verify_vit_l32.py --work /tmp/verify-smoke --variant tiny \\
        --image-size 32 --classes 4 --results /tmp/verify-smoke/results                 # a smoke run

Steps:
  1. artifacts  reuse WORK/export/{saved_model,artifacts} (default: the folders that
                benchmarks/export_vit_l32.py leaves in /tmp/edgevit-export-vit-l32) when they hold
                tflite-dynamic, onnx-fp32 and coreml-fp16 of the requested model; otherwise run
                benchmarks/export_vit_l32.py to build them (random weights: no pretrained file is reachable).
  2. data       edgevit.data.synth draws CLASSES species at IMAGE_SIZE px, --per-class test images each;
                class folder i is named after the model's label i (the random-weight model's labels
                are "species 000".. and have no meaning: only agreement with the SavedModel does).
  3. verify     `edgevit verify` on the three artifacts under `/usr/bin/time -v` (wall time, peak RSS),
                writing its JSON and record-v1 records.

Writes benchmarks/results/verify-vit-l32-<machine id>-<YYYY-MM-DD>.md and .json. With random weights
the classes are near ties, so quantized artifacts flip more images than a trained model would; the
table reports what the gates say, pass or fail, and this script exits 0 either way once verify ran.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from timed_run import invocation, timed  # noqa: E402  (benchmarks/ is not a package)

RESULTS = ROOT / "benchmarks" / "results"
EXPORT_WORK = Path("/tmp/edgevit-export-vit-l32")
ARTIFACTS = ("tflite-dynamic", "onnx-fp32", "coreml-fp16")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/edgevit-verify-vit-l32", help="scratch folder for data and outputs (default %(default)s)")
    p.add_argument("--export-work", default=str(EXPORT_WORK),
                   help="where benchmarks/export_vit_l32.py keeps (or will build) the SavedModel and artifacts (default %(default)s)")
    p.add_argument("--variant", default="vit-l32")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--classes", type=int, default=250)
    p.add_argument("--per-class", type=int, default=1, help="test images per class (default %(default)s: 250 images)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--results", default=str(RESULTS), help="where the .md/.json go (default benchmarks/results)")
    return p.parse_args(argv)


def ensure_artifacts(args) -> tuple[Path, Path]:
    """(saved_model, artifacts_dir) of the requested model, exported by benchmarks/export_vit_l32.py if missing."""
    work = Path(args.export_work)
    saved_model, artifacts = work / "saved_model", work / "artifacts"
    if not _matches(saved_model, artifacts, args):
        command = [sys.executable, str(ROOT / "benchmarks" / "export_vit_l32.py"), "--work", str(work), "--variant", args.variant,
                   "--image-size", str(args.image_size), "--classes", str(args.classes), "--results", str(work / "export-results")]
        print("building the artifacts:", shlex.join(command), flush=True)
        # Its exit code also reflects its own size/memory targets: what matters here is the artifacts.
        subprocess.run(command)
        if not _matches(saved_model, artifacts, args):
            sys.exit(f"{work}: export_vit_l32.py did not produce {', '.join(ARTIFACTS)} for {args.variant}")
    return saved_model, artifacts


def _matches(saved_model: Path, artifacts: Path, args) -> bool:
    try:
        manifest = json.loads((saved_model / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    model = manifest.get("model") or {}
    if (model.get("variant"), model.get("image_size"), len(manifest.get("labels", []))) != (args.variant, args.image_size, args.classes):
        return False
    return all((artifacts / name / "manifest.json").is_file() for name in ARTIFACTS)


def make_data(labels: list[str], args, splits: tuple[str, ...] = ("test",)) -> Path:
    """ROOT/<split>/<label i>/ holding the `split` images of synthetic species i, for each of `splits` (valid
    and test: --per-class images each)."""
    from edgevit.data.synth import write_synthetic_birds

    work = Path(args.work)
    synth, root = work / "synth", work / "data"
    stamp = {"classes": args.classes, "per_class": args.per_class, "image_size": args.image_size, "seed": args.seed,
             "splits": list(splits)}
    if (root / "stamp.json").is_file() and json.loads((root / "stamp.json").read_text()) == stamp:
        return root
    shutil.rmtree(synth, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    summary = write_synthetic_birds(synth, num_classes=args.classes, per_class=1, eval_per_class=args.per_class,
                                    image_size=args.image_size, seed=args.seed)
    species = sorted(summary.class_names)
    if len(species) != len(labels):
        sys.exit(f"drew {len(species)} species for a model with {len(labels)} labels")
    for split in splits:
        for label, name in zip(labels, species):
            shutil.copytree(synth / split / name, root / split / label)
    (root / "stamp.json").write_text(json.dumps(stamp))
    return root


def markdown(result: dict, table: str) -> str:
    machine, model, run = result["machine"], result["model"], result["run"]
    lines = [
        f"# `edgevit verify` of {model['variant']} ({model['image_size']}x{model['image_size']}, {model['num_classes']} classes, "
        f"{model.get('parameters', 0):,} parameters, random weights) on {machine['id']}, {result['date']}",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {machine['cpu_model']}, {machine['cpu_cores_logical']} logical cores, {machine['memory_bytes'] / 2**30:.0f} GiB RAM; "
        f"tools: " + ", ".join(f"{k} {v}" for k, v in result["tool_versions"].items()),
        "",
        f"Data: {result['data']['count']} synthetic test images ({result['data']['classes']} classes, "
        f"{result['per_class']} per class) drawn by edgevit.data.synth at {model['image_size']} px. The weights are random, "
        "so accuracy is chance level and the classes are near ties: agreement here is a harder test than on a trained "
        "model, where top-1 margins are wide.",
        "",
        f"The whole `edgevit verify` process (loading every model, decoding the images, predicting, statistics) took "
        f"{run['wall_seconds']:.0f} s wall with a peak RSS of {run['peak_rss_bytes'] / 2**30:.2f} GiB (`/usr/bin/time -v`; "
        f"1-minute load average {run['load_average_1min_before']} when it started, on a shared machine); its exit code was "
        f"{run['exit_code']} (0: every artifact passed its gate). The `predict s` column is the wall time of each runtime's "
        "predict calls alone. Core ML rows are **emulated**: the .mlpackage's MIL program executed by edgevit's numpy "
        "interpreter with fp16 rounding after every op (Core ML itself only runs on macOS).",
        "",
        table.strip(),
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from edgevit.fsutil import atomic_write_json, atomic_write_text
    from edgevit.portable.machine import fingerprint as machine_fingerprint
    from edgevit.manifest import tool_versions

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    saved_model, artifacts = ensure_artifacts(args)
    sm_manifest = json.loads((saved_model / "manifest.json").read_text())
    data = make_data(sm_manifest["labels"], args)
    out_json, out_records = work / "verify.json", work / "verify-records.json"
    edgevit = str(Path(sys.executable).with_name("edgevit"))
    command = [edgevit, "verify", *(str(artifacts / name) for name in ARTIFACTS), "--saved-model", str(saved_model),
               "--data", str(data), "--split", "test", "--json", str(out_json), "--records", str(out_records)]
    print("running:", shlex.join(command), flush=True)
    run = timed(command, work / "verify.log")
    log_text = (work / "verify.log").read_text()
    if not out_json.is_file():
        sys.exit(f"edgevit verify wrote no results (exit {run['exit_code']}); see {work / 'verify.log'}:\n{log_text[-2000:]}")
    verify = json.loads(out_json.read_text())
    # The table verify printed: from its header line to the last listed problem.
    table = log_text[log_text.index("reference: SavedModel"):log_text.index("results: ")]
    machine = machine_fingerprint()
    date = dt.date.today().isoformat()
    result = {
        "schema_version": 1,
        "kind": "verify-benchmark",
        "date": date,
        "command": invocation(__file__, argv if argv is not None else sys.argv[1:]),
        "verify_command": shlex.join(command),
        "machine": machine,
        "tool_versions": {k: v for k, v in tool_versions().items()},
        "model": {**(sm_manifest.get("model") or {}), "num_classes": len(sm_manifest["labels"])},
        "per_class": args.per_class,
        "data": verify["data"],
        "run": run,
        "verify": verify,
    }
    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"verify-vit-l32-{machine['id']}-{date}"
    atomic_write_json(results_dir / f"{stem}.json", result)
    atomic_write_text(results_dir / f"{stem}.md", markdown(result, table))
    print(markdown(result, table))
    print(f"wrote {results_dir / stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
