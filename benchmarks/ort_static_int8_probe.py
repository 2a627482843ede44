"""Static per-channel int8 (QDQ) in ONNX Runtime against the dynamic int8 that edgevit exports (issue 19), as rows
before any becomes a mode.

    .venv/bin/python benchmarks/ort_static_int8_probe.py --artifacts WORK/artifacts --data WORK/data [--results DIR]

ARTIFACTS is an `edgevit export` folder holding onnx-fp32 and onnx-int8-dynamic (benchmarks/vit_l32_cpu.py
writes one). Each static row is onnxruntime.quantization.quantize_static on onnx-fp32/model.onnx: QDQ format,
per-channel int8 weights, uint8 activations (the u8s8 pair ORT's x86 kernels take), only the MatMul ops quantized
(LayerNorm, softmax and GELU stay float, as in the dynamic artifact), activation ranges calibrated on the first
--calibration images of the data set's valid split (its test split's last images when there is none; they are
then left out of the agreement).

Per row: file size, top-1 agreement with onnx-fp32 on the other test images with its exact 95% interval (onnx-fp32
passed its "every probability within 1e-4" gate against the SavedModel on the same images in that run, so it
stands in for the SavedModel and no TensorFlow is loaded), and the p50 at batch 1 with its 95% interval, every row
timed in turn in each of --rounds rounds, and the speed-up over the dynamic row paired round by round.

Writes <results>/ort-static-int8-probe_<machine id>_<YYYY-MM-DD>.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
STATIC_ROWS = {  # name -> (description, calibrate method name in onnxruntime.quantization.CalibrationMethod)
    "static-minmax": ("quantize_static QDQ, per-channel int8 weights, uint8 activations, MatMul only; MinMax ranges", "MinMax"),
    "static-percentile": ("the same with Percentile ranges (99.999%)", "Percentile"),
}


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader over preprocessed images, one image a batch."""

    def __init__(self, name: str, images: np.ndarray):
        self._name, self._images, self._next = name, images, 0

    def get_next(self):
        if self._next >= len(self._images):
            return None
        self._next += 1
        return {self._name: self._images[self._next - 1:self._next]}

    def rewind(self):
        self._next = 0


def quantize_static_row(fp32: Path, out: Path, input_name: str, calibration: np.ndarray, method: str) -> Path:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(str(fp32), str(out), _Reader(input_name, calibration), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                    calibrate_method=getattr(CalibrationMethod, method))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--artifacts", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--calibration", type=int, default=32)
    p.add_argument("--rows", default=",".join(STATIC_ROWS), help="static rows to build (default %(default)s)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--runs", type=int, default=5, help="timed calls per row per round (default %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    from edgevit.bench.peak import ort_cpu_session
    from edgevit.bench.stability import paired_ratio
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess
    from edgevit.fsutil import atomic_write_text
    from edgevit.manifest import preprocessing_of, read_manifest
    from edgevit.portable.machine import fingerprint
    from edgevit.portable.timing import median_interval
    from edgevit.verify.intervals import clopper_pearson

    fp32_dir, dynamic_dir = args.artifacts / "onnx-fp32", args.artifacts / "onnx-int8-dynamic"
    spec = preprocessing_of(read_manifest(fp32_dir))
    splits = [s for s in ("valid", "test") if (args.data / s).is_dir()]
    folders = load_image_folders(args.data, splits=tuple(splits))
    test_paths = list(folders.split("test").paths)
    if "valid" in splits:
        calibration_paths = list(folders.split("valid").paths)[: args.calibration]
    else:
        calibration_paths, test_paths = test_paths[-args.calibration:], test_paths[: -args.calibration]
    calibration = np.stack([preprocess(path, spec) for path in calibration_paths])
    test = np.stack([preprocess(path, spec) for path in test_paths])
    load_before = os.getloadavg()

    models = {"fp32": ("onnx-fp32 artifact (the reference)", fp32_dir / "model.onnx"),
              "dynamic": ("onnx-int8-dynamic artifact: quantize_dynamic, MatMulInteger on per-call uint8 activations",
                          dynamic_dir / "model.onnx")}
    sessions = {"fp32": ort_cpu_session(str(models["fp32"][1]), args.threads)}
    input_name = sessions["fp32"].get_inputs()[0].name
    with tempfile.TemporaryDirectory(prefix="ort-static-") as scratch:
        rows = {}
        for name in [r for r in args.rows.split(",") if r]:
            what, method = STATIC_ROWS[name]
            began = time.monotonic()
            try:
                path = quantize_static_row(models["fp32"][1], Path(scratch) / f"{name}.onnx", input_name, calibration, method)
            except Exception as exc:  # a calibrator ORT cannot run here is a row of its own
                rows[name] = {"what": what, "status": f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
                continue
            models[name] = (what, path)
            rows[name] = {"what": what, "status": "ok", "quantize_s": time.monotonic() - began}
        sessions.update({name: ort_cpu_session(str(path), args.threads) for name, (_, path) in models.items() if name != "fp32"})
        sizes = {name: path.stat().st_size for name, (_, path) in models.items()}
    outputs = {name: np.concatenate([s.run(None, {input_name: test[i:i + 1]})[0] for i in range(len(test))])
               for name, s in sessions.items()}
    one = test[:1]
    for s in sessions.values():  # warm-ups
        for _ in range(3):
            s.run(None, {input_name: one})
    rounds = {name: [] for name in sessions}
    for _ in range(args.rounds):  # every row in turn, within each round
        for name, s in sessions.items():
            s.run(None, {input_name: one})  # the first call after another row's: not timed
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                s.run(None, {input_name: one})
                times.append((time.perf_counter() - began) * 1e3)
            rounds[name].append(times)

    reference = outputs["fp32"].argmax(1)
    table = []
    for name, (what, _) in models.items():
        agree = int((outputs[name].argmax(1) == reference).sum())
        samples = [t for chunk in rounds[name] for t in chunk]
        interval = median_interval(samples)
        speedup = paired_ratio(rounds["dynamic"], rounds[name])
        table.append({"name": name, "what": what, "status": "ok", "file_size": sizes[name], **rows.get(name, {}),
                      "agreement": agree / len(test), "agreement_interval": list(clopper_pearson(agree, len(test))),
                      "p50_ms": statistics.median(samples), "p50_interval_ms": list(interval) if interval else None,
                      "speedup_over_dynamic": speedup, "samples_ms": samples})
    table += [{"name": name, **row} for name, row in rows.items() if row["status"] != "ok"]

    machine = fingerprint()["id"]
    today = dt.date.today().isoformat()
    timed = (f"ONNX Runtime CPU, batch 1, {args.threads} threads: {args.rounds} rounds, each row in turn with one untimed "
             f"call then {args.runs} timed")
    document = {"command": " ".join(["python", "benchmarks/ort_static_int8_probe.py", *(argv or sys.argv[1:])]), "date": today,
                "machine": machine, "test_images": len(test), "calibration_images": len(calibration),
                "calibration_split": "valid" if "valid" in splits else "test (its last images, left out of the agreement)",
                "timed": timed, "load_average_before": load_before, "load_average_after": os.getloadavg(), "rows": table}
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / f"ort-static-int8-probe_{machine}_{today}"
    atomic_write_text(stem.with_suffix(".json"), json.dumps(document, indent=1) + "\n")
    lines = [f"# Static per-channel int8 (QDQ) against dynamic int8 in ONNX Runtime, {today}", "",
             f"`{document['command']}` on {machine}. Agreement: top-1 against onnx-fp32 on {len(test)} test images "
             f"(exact 95% interval); {len(calibration)} {document['calibration_split']} images calibrate the static rows. "
             f"Timed: {timed}. Load average (1, 5, 15 min) before: {[round(v, 2) for v in load_before]}, after: "
             f"{[round(v, 2) for v in document['load_average_after']]}.", "",
             "| row | what | size MB | top-1 agreement [95%] | p50 ms [95%] | speed-up over dynamic [95%], paired |",
             "|---|---|---:|---|---|---|"]
    for r in table:
        if r["status"] != "ok":
            lines.append(f"| {r['name']} | {r['what']} | {r['status']} | | | |")
            continue
        low, high = r["agreement_interval"]
        p50 = f"{r['p50_ms']:.1f}" + (f" [{r['p50_interval_ms'][0]:.1f}–{r['p50_interval_ms'][1]:.1f}]" if r["p50_interval_ms"] else "")
        s = r["speedup_over_dynamic"]
        ratio = "–" if not s else f"{s['ratio']:.2f}x" + (f" [{s['interval'][0]:.2f}–{s['interval'][1]:.2f}]" if s["interval"] else "")
        lines.append(f"| {r['name']} | {r['what']} | {r['file_size'] / 1e6:.1f} | {r['agreement']:.2%} [{low:.2%}, {high:.2%}] | "
                     f"{p50} | {ratio} |")
    atomic_write_text(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))  # a benchmark script: its table is its output
    return 0


if __name__ == "__main__":
    sys.exit(main())
