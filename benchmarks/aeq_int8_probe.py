"""Stronger int8 for ViTs through AI Edge Quantizer (issue 16, item 3), probed as rows before any becomes a mode.

    .venv/bin/python benchmarks/aeq_int8_probe.py --saved-model RUN/saved_model --data DATA_ROOT [--results DIR]

Each row is one AI Edge Quantizer recipe on the float .tflite that `edgevit export --quantization fp32` writes
(the converter's own dynamic range is the first row, for comparison), run in LiteRT on the data set's test
split: file size, max |probability - SavedModel's| and top-1 agreement with the SavedModel, and p50 latency at
batch 1 and 1 thread (median of the rounds, every row timed in turn within each round, after warm-ups). Static
rows calibrate on the first --calibration images of the train split. Model input and output stay float32 in
every row (no_quantize on INPUT/OUTPUT), as in edgevit's other TFLite modes.

Writes <results>/aeq-int8-probe-<variant>-<machine id>-<YYYY-MM-DD>.md and .json. A row whose recipe fails is reported
with its error; the script exits 0 once every row was tried.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Keras layers of a vit-keras ViT that the ViT quantization literature keeps float, by name scope
# (edgevit.layer_names): every LayerNorm and the classifier head (softmax and GELU are kept by op type).
KEPT_FLOAT_LAYERS = r"(?:^|[/;])(?:LayerNorm_\d+|Transformer_encoder_norm|head)(?:_\d+)?/"
KEPT_FLOAT_NORMS = r"(?:^|[/;])(?:LayerNorm_\d+|Transformer_encoder_norm)(?:_\d+)?/"  # the same but the head


def recipes():
    """name -> (description, recipe builder on an ai_edge_quantizer RecipeManager)."""
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName as Op

    def keep(rm, *ops, layers=None):
        for op in (Op.INPUT, Op.OUTPUT, *ops):
            rm.add_quantization_config(".*", op, algorithm_key=AlgorithmName.NO_QUANTIZE)
        if layers:
            rm.add_quantization_config(layers, Op.ALL_SUPPORTED, algorithm_key=AlgorithmName.NO_QUANTIZE)

    def dynamic(algorithm):
        def build(rm):
            rm.add_dynamic_config(".*", Op.ALL_SUPPORTED, num_bits=8, algorithm_key=algorithm)
            keep(rm)
        return build

    def static(bits, *, vit_float: bool, head_float: bool = True):
        def build(rm):
            rm.add_static_config(".*", Op.ALL_SUPPORTED, activation_num_bits=bits, weight_num_bits=8)
            keep(rm, *((Op.SOFTMAX, Op.GELU) if vit_float else ()),
                 layers=(KEPT_FLOAT_LAYERS if head_float else KEPT_FLOAT_NORMS) if vit_float else None)
        return build

    return {
        "aeq dynamic_wi8_afp32 (min-max)": ("int8 per-channel weights, float activations quantized per call", dynamic(AlgorithmName.MIN_MAX_UNIFORM_QUANT)),
        "aeq dynamic_wi8_afp32 (MSE weights)": ("as above, weight scales chosen by MSE instead of min-max", dynamic(AlgorithmName.MSE)),
        "aeq static_wi8_ai8, ViT float ops": ("int8 weights and activations; LayerNorm, softmax, GELU, head float", static(8, vit_float=True)),
        "aeq static_wi8_ai16, ViT float ops": ("int8 weights, int16 activations; LayerNorm, softmax, GELU, head float", static(16, vit_float=True)),
        "aeq static_wi8_ai16, ViT float ops but the head": ("as above, the classifier head quantized too",
                                                             static(16, vit_float=True, head_float=False)),
        "aeq static_wi8_ai8, all ops": ("int8 weights and activations everywhere AEQ supports", static(8, vit_float=False)),
        "aeq static_wi8_ai16, all ops": ("int8 weights, int16 activations everywhere AEQ supports", static(16, vit_float=False)),
    }


def quantize(fp32: bytes, build, calibration: list[dict], signature: str) -> bytes:
    from ai_edge_quantizer import quantizer, recipe_manager

    rm = recipe_manager.RecipeManager()
    build(rm)
    job = quantizer.Quantizer(fp32, rm.get_quantization_recipe())
    with contextlib.redirect_stderr(io.StringIO()):  # AEQ's progress bars
        result = job.calibrate({signature: calibration}) if job.need_calibration else None
        return bytes(job.quantize(result, enable_progress_bar=False, enable_progress_report=False).quantized_model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saved-model", required=True)
    parser.add_argument("--data", required=True, help="data set ROOT with train/ and test/ class folders")
    parser.add_argument("--calibration", type=int, default=64, help="train images that calibrate static rows")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()

    from ai_edge_litert.interpreter import Interpreter

    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import preprocess
    from edgevit.exporters import export
    from edgevit.manifest import preprocessing_of
    from edgevit.savedmodel.load import LoadedSavedModel

    reference_model = LoadedSavedModel(Path(args.saved_model))
    manifest = reference_model.manifest
    spec = preprocessing_of(manifest)
    folders = load_image_folders(Path(args.data), splits=("train", "test"))
    test = np.stack([preprocess(p, spec) for p in folders.split("test").paths])
    calibration_images = [preprocess(p, spec)[None] for p in folders.split("train").paths[: args.calibration]]
    reference = reference_model.predict(test)

    with tempfile.TemporaryDirectory(prefix="aeq-probe-") as work:
        models = {}
        for quantization in ("fp32", "dynamic"):
            folder = export("tflite", saved_model=Path(args.saved_model), out_dir=Path(work), quantization=quantization)
            models[f"converter {quantization}"] = (f"tf.lite.TFLiteConverter, {quantization}", (folder / "model.tflite").read_bytes())
    fp32 = models["converter fp32"][1]
    probe = Interpreter(model_content=fp32)
    signature = next(iter(probe.get_signature_list()))
    input_key = probe.get_signature_list()[signature]["inputs"][0]
    output_key = probe.get_signature_list()[signature]["outputs"][0]
    del probe
    calibration = [{input_key: x} for x in calibration_images]

    rows = []
    for name, (what, build) in recipes().items():
        try:
            models[name] = (what, quantize(fp32, build, calibration, signature))
        except Exception as exc:  # a recipe AEQ or LiteRT cannot handle is a row of its own
            rows.append({"name": name, "what": what, "status": f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})

    runners = {}
    for name, (what, model) in models.items():
        interpreter = Interpreter(model_content=model, num_threads=1)
        runners[name] = interpreter.get_signature_runner(signature)
    outputs = {name: np.concatenate([run(**{input_key: test[i:i + 1]})[output_key] for i in range(len(test))])
               for name, run in runners.items()}
    times = {name: [] for name in runners}
    for run in runners.values():  # warm-ups
        for _ in range(3):
            run(**{input_key: test[:1]})
    for _ in range(args.rounds):  # interleaved: every row once per round
        for name, run in runners.items():
            began = time.perf_counter()
            run(**{input_key: test[:1]})
            times[name].append((time.perf_counter() - began) * 1000)

    for name, (what, model) in models.items():
        out = outputs[name]
        rows.append({"name": name, "what": what, "status": "ok", "file_size": len(model),
                     "max_abs_error": float(np.abs(out - reference).max()),
                     "agreement": float((out.argmax(1) == reference.argmax(1)).mean()),
                     "p50_ms": float(np.median(times[name]))})
    order = list(models) + [r["name"] for r in rows if r["status"] != "ok"]
    rows.sort(key=lambda r: order.index(r["name"]))

    from importlib.metadata import version

    from edgevit.portable.machine import fingerprint as machine_fingerprint

    today = dt.date.today().isoformat()
    variant = (manifest.get("model") or {}).get("variant", "model")
    machine = machine_fingerprint()
    load = os.getloadavg()[0]
    document = {
        "kind": "aeq-int8-probe", "date": today, "saved_model": str(Path(args.saved_model).resolve()),
        "model": manifest.get("model"), "test_images": len(test), "calibration_images": len(calibration),
        "timed": f"LiteRT, batch 1, 1 thread, median of {args.rounds} interleaved rounds after 3 warm-ups",
        "machine": machine, "load_average_1min_after": round(load, 2),
        "versions": {p: version(p) for p in ("ai-edge-quantizer", "ai-edge-litert", "tensorflow-cpu")},
        "rows": rows,
    }
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    stem = results / f"aeq-int8-probe-{variant}-{machine['id']}-{today}"
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    lines = [f"# AI Edge Quantizer recipes on the {variant} ViT ({today})", "",
             f"{len(test)} test images against the SavedModel; {len(calibration)} train images calibrate the static rows. "
             f"Timed: {document['timed']}, on {machine['id']} ({machine['cpu_model']}), shared: 1-minute load average "
             f"{load:.2f} at the end. Command: `{' '.join(['benchmarks/aeq_int8_probe.py', *sys.argv[1:]])}`.", "",
             "| row | what | size | max abs error | top-1 agreement | p50 (ms) |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['name']} | {r['what']} | {r['status']} | | | |")
        else:
            lines.append(f"| {r['name']} | {r['what']} | {r['file_size'] / 1e6:.3f} MB | {r['max_abs_error']:.4f} | "
                         f"{r['agreement']:.2%} | {r['p50_ms']:.3f} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))  # a benchmark script: its table is its output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
