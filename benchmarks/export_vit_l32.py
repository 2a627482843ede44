"""Export ViT-L/32 (224x224, 250 classes, random weights) to every shipped format on this machine and
record, per artifact, wall time, peak RSS and file size, each conversion in its own process.

    flock /tmp/edgevit-heavy.lock .venv/bin/python benchmarks/export_vit_l32.py       # ~25 min, ~6 GB under /tmp
    .venv/bin/python benchmarks/export_vit_l32.py --variant tiny --image-size 32 --classes 4 \\
        --work /tmp/export-smoke --results /tmp/export-smoke/results                 # a smoke run of the script

Steps, each a separate process timed by `/usr/bin/time -v` (peak RSS = its "Maximum resident set size"):
  1. savedmodel  build the classifier with random weights (edgevit.models.build_classifier, no
                 pretrained file) and write the SavedModel + manifest (edgevit.savedmodel.write)
  2. per artifact `edgevit export SAVED_MODEL --out OUT --format F --quantization Q`: tflite dynamic,
                 tflite fp32 (for the size ratio), onnx fp32, coreml fp16, coreml int8
  3. parity      tflite-dynamic and onnx-fp32 against the SavedModel on a few random inputs

Writes benchmarks/results/export-vit-l32-<machine id>-<YYYY-MM-DD>.json and .md. Generated models stay
under --work (default /tmp/edgevit-export-vit-l32), never in the repository. Checks: every artifact
below --target-gib peak RSS (default 12), and the dynamic-range .tflite at most 27% of the fp32 one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from timed_run import invocation, timed  # noqa: E402  (benchmarks/ is not a package)

RESULTS = ROOT / "benchmarks" / "results"
ARTIFACTS = (  # (format, quantization): what the reference case ships, plus tflite fp32 for the size ratio
    ("tflite", "dynamic"),
    ("tflite", "fp32"),
    ("onnx", "fp32"),
    ("coreml", "fp16"),
    ("coreml", "int8"),
)
SIZE_RATIO_LIMIT = 0.27
PARITY_IMAGES = 4


# ------------------------------------------------------------------------------------------ steps


def step_savedmodel(args) -> None:
    """Runs in its own process: random-weight classifier -> SavedModel + manifest."""
    from edgevit.config import Preprocessing
    from edgevit.keras_backend import import_keras
    from edgevit.manifest import io_spec, now_iso, tool_versions
    from edgevit.models import ClassifierConfig, build_classifier
    from edgevit.savedmodel.write import save_savedmodel

    import_keras().utils.set_random_seed(args.seed)
    config = ClassifierConfig(variant=args.variant, image_size=args.image_size, num_classes=args.classes,
                              noise_stddev=0.01, trainable_blocks=0)
    model = build_classifier(config)
    preprocessing = Preprocessing(height=args.image_size, width=args.image_size)
    input_spec, output_spec = io_spec(preprocessing, args.classes)
    manifest = {
        "schema_version": 1,
        "kind": "savedmodel",
        "created": now_iso(),
        "model": {**config.to_dict(), "parameters": int(model.count_params()), "weights": f"random (seed {args.seed})"},
        "input": input_spec,
        "output": output_spec,
        "preprocessing": preprocessing.to_dict(),
        "labels": [f"species {i:03d}" for i in range(args.classes)],
        "dataset": None,
        "tool_versions": tool_versions(),
    }
    save_savedmodel(model, Path(args.saved_model), manifest)


def step_parity(args) -> None:
    """Runs in its own process: max |p - p_savedmodel| and top-1 agreement on random inputs; prints JSON."""
    import numpy as np
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    from edgevit.savedmodel.load import LoadedSavedModel

    reference_model = LoadedSavedModel(Path(args.saved_model))
    size = reference_model.input_shape[1]
    images = np.random.default_rng(0).uniform(-1, 1, (PARITY_IMAGES, size, size, 3)).astype(np.float32)
    reference = reference_model.predict(images)
    del reference_model
    out, results = Path(args.out), {}
    if (out / "tflite-dynamic" / "model.tflite").is_file():
        runner = Interpreter(model_path=str(out / "tflite-dynamic" / "model.tflite")).get_signature_runner()
        results["tflite-dynamic"] = runner(images=images)["probabilities"]
    if (out / "onnx-fp32" / "model.onnx").is_file():
        session = ort.InferenceSession(str(out / "onnx-fp32" / "model.onnx"), providers=["CPUExecutionProvider"])
        results["onnx-fp32"] = session.run(None, {"images": images})[0]
    print(json.dumps({name: {"images": PARITY_IMAGES, "max_abs_error": float(np.abs(p - reference).max()),
                             "top1_agreement": float((p.argmax(1) == reference.argmax(1)).mean())}
                      for name, p in results.items()}))


# ------------------------------------------------------------------------------------- measuring


def _this_script(step: str, args) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--step", step, "--saved-model", args.saved_model, "--out", args.out,
            "--variant", args.variant, "--image-size", str(args.image_size), "--classes", str(args.classes), "--seed", str(args.seed)]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


# --------------------------------------------------------------------------------------- results


def _gib(value) -> str:
    return "n/a" if not value else f"{value / 2**30:.2f} GiB"


def _mb(value) -> str:
    return "n/a" if value is None else f"{value / 1e6:,.0f} MB"


def write_results(result: dict, results_dir: Path) -> tuple[Path, Path]:
    from edgevit.fsutil import atomic_write_json, atomic_write_text

    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"export-vit-l32-{result['machine']['id']}-{result['date']}"
    json_path, md_path = results_dir / f"{stem}.json", results_dir / f"{stem}.md"
    atomic_write_json(json_path, result)
    atomic_write_text(md_path, markdown(result))
    return json_path, md_path


def markdown(result: dict) -> str:
    model, machine, target = result["model"], result["machine"], result["target_peak_rss_bytes"]
    sm = result["savedmodel"]
    lines = [
        f"# Export of {model['variant']} ({model['image_size']}x{model['image_size']}, {model['num_classes']} classes, "
        f"{model['parameters']:,} parameters, random weights) on {machine['id']}, {result['date']}",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {machine['cpu_model']}, {machine['cpu_cores_logical']} logical cores, {machine['memory_bytes'] / 2**30:.0f} GiB RAM, "
        f"Python {machine['python']}; tools: " + ", ".join(f"{k} {v}" for k, v in result["tool_versions"].items() if k != "python"),
        "",
        "Each row is one process run under `/usr/bin/time -v`: **wall** is its elapsed time (Python start, imports, "
        "conversion, checks, writing), **peak RSS** its maximum resident set size (the `edgevit export` process and its "
        "converter child; the larger of the two), **conversion** the converter's own time as recorded in the artifact "
        "manifest. Sizes are the artifact's model file or package. **load before** is the 1-minute load average "
        f"when the process started: this {machine['cpu_cores_logical']}-core machine is shared, and other work "
        "stretches wall times (not peak RSS).",
        "",
        (f"SavedModel: reused from an earlier run in the work folder (not measured in this run), {_mb(sm.get('size_bytes'))}"
         if sm.get("reused") else
         f"SavedModel (build + save, random weights): {sm['wall_seconds']:.0f} s wall, peak RSS {_gib(sm['peak_rss_bytes'])}, "
         f"{_mb(sm.get('size_bytes'))}"),
        "",
        f"| artifact | status | wall | conversion | peak RSS | < {target / 2**30:.0f} GiB | size | load before |",
        "|---|---|---:|---:|---:|:---:|---:|---:|",
    ]
    for a in result["artifacts"]:
        conversion = f"{a['conversion_seconds']:.0f} s" if a.get("conversion_seconds") else "n/a"
        under = "yes" if a["under_target"] else "**no**"
        status = a["status"] if a["status"] == "ok" else f"**{a['status']}**: {a.get('error') or ''}"
        lines.append(f"| {a['name']} | {status} | {a['wall_seconds']:.0f} s | {conversion} | {_gib(a['peak_rss_bytes'])} | {under} | "
                     f"{_mb(a.get('file_size'))} | {a.get('load_average_1min_before', 'n/a')} |")
    ratio = result.get("size_ratio_dynamic_to_fp32")
    lines += ["", (f"TFLite dynamic-range / fp32 file size: {ratio:.1%} (limit {SIZE_RATIO_LIMIT:.0%}: "
                   f"{'met' if result['size_ratio_ok'] else '**missed**'})") if ratio else "TFLite size ratio: n/a (an export failed)"]
    if result.get("parity"):
        lines += ["", f"Parity against the SavedModel on {PARITY_IMAGES} random inputs (random weights: probabilities are "
                      "near-uniform, so agreement is a weak signal here):", ""]
        for name, p in result["parity"].items():
            lines.append(f"- {name}: max abs probability error {p['max_abs_error']:.3g}, top-1 agreement {p['top1_agreement']:.0%}")
    lines += ["", f"All artifacts under {target / 2**30:.0f} GiB peak: {'yes' if result['all_under_target'] else '**no**'}.", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/edgevit-export-vit-l32"), help="where the models go (default %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    p.add_argument("--variant", default="vit-l32")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--classes", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target-gib", type=float, default=12.0, help="peak RSS every artifact must stay under (default %(default)s)")
    p.add_argument("--reuse-savedmodel", action="store_true", help="keep an existing SavedModel in --work instead of rebuilding it")
    p.add_argument("--step", choices=("savedmodel", "parity"), help=argparse.SUPPRESS)
    p.add_argument("--saved-model", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.step == "savedmodel":
        step_savedmodel(args)
        return 0
    if args.step == "parity":
        step_parity(args)
        return 0

    from edgevit.portable.machine import fingerprint as machine_fingerprint
    from edgevit.manifest import tool_versions

    work = args.work
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    args.saved_model, args.out = str(work / "saved_model"), str(work / "artifacts")
    command = invocation(__file__, sys.argv[1:] if argv is None else argv)

    if args.reuse_savedmodel and (work / "saved_model" / "saved_model.pb").is_file():
        savedmodel = {"reused": True, "wall_seconds": None, "peak_rss_bytes": None}
        print(f"[savedmodel] reusing {args.saved_model} (not measured in this run)")
    else:
        print(f"[savedmodel] building {args.variant} with random weights -> {args.saved_model}", flush=True)
        savedmodel = timed(_this_script("savedmodel", args), logs / "savedmodel.log")
        if savedmodel["exit_code"]:
            print(f"the SavedModel step failed; see {savedmodel['log']}", file=sys.stderr)
            return 1
        print(f"[savedmodel] {savedmodel['wall_seconds']:.0f} s wall, peak RSS {_gib(savedmodel['peak_rss_bytes'])}", flush=True)
    savedmodel["size_bytes"] = folder_bytes(Path(args.saved_model))
    manifest = json.loads((Path(args.saved_model) / "manifest.json").read_text())

    target = int(args.target_gib * 2**30)
    artifacts = []
    for fmt, quantization in ARTIFACTS:
        name = f"{fmt}-{quantization}"
        print(f"[{name}] edgevit export ...", flush=True)
        measured = timed([sys.executable, "-m", "edgevit.cli", "export", args.saved_model, "--out", args.out,
                          "--format", fmt, "--quantization", quantization], logs / f"{name}.log")
        entry = {"name": name, "format": fmt, "quantization": quantization, **measured}
        entry.update(_from_index(Path(args.out), name))
        entry["under_target"] = entry["status"] == "ok" and 0 < entry["peak_rss_bytes"] < target
        artifacts.append(entry)
        print(f"[{name}] {entry['status']}: {entry['wall_seconds']:.0f} s wall, peak RSS {_gib(entry['peak_rss_bytes'])}, "
              f"{_mb(entry.get('file_size'))}" + (f"; {entry['error']}" if entry.get("error") else ""), flush=True)

    parity = {}
    print("[parity] tflite-dynamic and onnx-fp32 vs the SavedModel ...", flush=True)
    checked = subprocess.run(_this_script("parity", args), capture_output=True, text=True)
    if checked.returncode == 0 and checked.stdout.strip():
        parity = json.loads(checked.stdout.strip().splitlines()[-1])
    else:
        (logs / "parity.log").write_text(checked.stdout + checked.stderr)
        print(f"[parity] failed; see {logs / 'parity.log'}", file=sys.stderr)

    sizes = {a["name"]: a.get("file_size") for a in artifacts if a["status"] == "ok"}
    ratio = sizes["tflite-dynamic"] / sizes["tflite-fp32"] if sizes.get("tflite-dynamic") and sizes.get("tflite-fp32") else None
    result = {
        "schema_version": 1,
        "kind": "export-benchmark",
        "date": dt.date.today().isoformat(),
        "command": command,
        "machine": machine_fingerprint(),
        "model": {"variant": args.variant, "image_size": args.image_size, "num_classes": args.classes,
                  "parameters": manifest["model"]["parameters"], "weights": manifest["model"]["weights"]},
        "savedmodel": savedmodel,
        "target_peak_rss_bytes": target,
        "artifacts": artifacts,
        "all_under_target": all(a["under_target"] for a in artifacts),
        "size_ratio_dynamic_to_fp32": ratio,
        "size_ratio_limit": SIZE_RATIO_LIMIT,
        "size_ratio_ok": ratio is not None and ratio <= SIZE_RATIO_LIMIT,
        "parity": parity,
        "tool_versions": tool_versions(),
        "measured": "wall_seconds, user/system seconds and peak_rss_bytes by /usr/bin/time -v around each process; "
                    "conversion_seconds and child_peak_rss_bytes as recorded by edgevit (artifact manifest, artifacts.json)",
    }
    json_path, md_path = write_results(result, args.results)
    print(f"results: {json_path} and {md_path}")
    failed = [a["name"] for a in artifacts if a["status"] != "ok"]
    if failed or not result["all_under_target"] or not result["size_ratio_ok"]:
        print(f"checks missed: failed={failed}, all under target={result['all_under_target']}, size ratio ok={result['size_ratio_ok']}",
              file=sys.stderr)
        return 1
    return 0


def _from_index(out: Path, name: str) -> dict:
    """What edgevit recorded: status, error, size, the converter's own time and the child's peak RSS."""
    try:
        entries = {e["name"]: e for e in json.loads((out / "artifacts.json").read_text())["artifacts"]}
    except (OSError, ValueError, KeyError):
        return {"status": "failed", "error": "no artifacts.json"}
    entry = entries.get(name, {})
    found = {"status": entry.get("status", "failed"), "error": entry.get("error"), "file_size": entry.get("file_size"),
             "child_peak_rss_bytes": entry.get("peak_rss_bytes"), "sha256": entry.get("sha256")}
    if entry.get("status") == "ok":
        manifest = json.loads((out / name / "manifest.json").read_text())
        found["conversion_seconds"] = manifest["conversion"]["seconds"]
        found["file"] = manifest["file"]
    return found


if __name__ == "__main__":
    sys.exit(main())
