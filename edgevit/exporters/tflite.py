"""SavedModel -> TFLite (.tflite): dynamic-range (default), fp32, fp16 or full-integer int8.

The route: tf.lite.TFLiteConverter.from_saved_model on the single serving signature. The SavedModel
tracks its tf.Variables directly (edgevit/savedmodel.py), so the converter embeds the weights; a model
that still holds variable ops (weights not embedded) or any Flex/custom op fails the export, because
a stock LiteRT runtime on a phone cannot run it. Class labels and the input normalisation travel
inside the file as TFLite metadata (exporters/tflite_file.py).

int8 calibrates activation ranges on images drawn from the SOURCE's training split (the dataset
root its manifest records, or `data=`), preprocessed by edgevit.data.preprocess exactly as in
training; input and output are int8, with their scale and zero point in the artifact manifest, or
float32 with `float_io` (the converter then quantizes the input and dequantizes the output inside the
model: what TensorFlowLiteSwift on iOS can feed, since its Tensor.DataType has no int8).

dynamic with `float_layers` (or `quantizer="ai-edge-quantizer"`): the converter writes the float32
model and AI Edge Quantizer quantizes it, leaving the ops of those Keras layers float
(exporters/tflite_quantizer.py); the plan goes into the manifest's conversion details.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgevit.compat import TFLITE_HYBRID_OP_VERSIONS, TFLITE_OP_RUNTIMES_SOURCE, is_newer, ops_needing_newer, ops_not_in_table, parse_version, tflite_op_runtime
from edgevit.errors import DataError, EdgeVitError, ExportError
from edgevit.exporters.common import Built, write_artifact
from edgevit.exporters.options import TFLiteOptions, default_name, make_options, parity_note
from edgevit.exporters.tflite_file import (
    LABELS_FILE,
    METADATA_NAME,
    ClassifierMetadata,
    append_labels,
    min_runtime_version,
    non_builtin_ops,
    op_versions,
    operator_counts,
    read_labels,
    write_with_metadata,
)
from edgevit.formats import TFLiteQuantization
from edgevit.savedmodel.source import SavedModelSource, open_source

logger = logging.getLogger(__name__)

MAIN_FILE = "model.tflite"
ROUTE = "tf.lite.TFLiteConverter.from_saved_model, builtin ops only"
AEQ_ROUTE = f"{ROUTE}, float32; then AI Edge Quantizer's recipe on the .tflite"


def export_tflite(*, saved_model: Path, out_dir: Path, name: str | None = None, **options) -> Path:
    """Export the SavedModel to `out_dir/<name>/model.tflite`; return the artifact folder."""
    opts: TFLiteOptions = make_options("tflite", options)
    source = open_source(saved_model)
    quantization = opts.quantization
    # Resolved before converting so a missing data folder fails in seconds, not after loading the model.
    representative = RepresentativeSet.from_source(source, opts) if quantization is TFLiteQuantization.INT8 else None
    note = parity_note(opts)
    if note:
        logger.info(f"tflite {quantization.value}: {note}")
    per_layer = opts.uses_ai_edge_quantizer
    # The converter's own older-op settings change how IT quantizes; AI Edge Quantizer quantizes here instead.
    settings = {} if per_layer else older_op_settings(opts.min_runtime, quantization)

    def convert(folder: Path) -> Built:
        quantizer_details = {}
        if per_layer:  # the float model, then AI Edge Quantizer's recipe with float_layers left float
            from edgevit.exporters.tflite_quantizer import quantize_dynamic

            model, quantizer_details = quantize_dynamic(_convert(source, TFLiteQuantization.FP32, None, settings),
                                                        opts.float_layers)
        else:
            model = _convert(source, quantization, representative, settings, opts.float_io)
        ops = operator_counts(model)
        rejected = non_builtin_ops(ops)
        if rejected:
            raise ExportError(
                f"the .tflite needs non-builtin op(s) {', '.join(rejected)} (Flex/custom/variables), which a stock "
                "LiteRT runtime cannot run; this model cannot ship as TFLite"
            )
        path = folder / MAIN_FILE
        # AI Edge Quantizer leaves its int8-weight ops at the float model's op versions: declared as the converter would.
        try:
            write_with_metadata(model, _metadata(source), path, hybrid_op_versions=TFLITE_HYBRID_OP_VERSIONS if per_layer else None)
        except ValueError as exc:
            raise ExportError(f"{MAIN_FILE}: {exc}") from None
        del model
        if opts.min_runtime is not None:  # on the file as written: its op versions are final only there
            check_loads_in(path.read_bytes(), opts.min_runtime)
        append_labels(path, source.manifest["labels"])
        if read_labels(path) != list(source.manifest["labels"]):
            raise ExportError(f"{MAIN_FILE}: the labels read back differ from the manifest's; this is an exporter bug, report it")
        input_spec, output_spec = _io_specs(path, source)
        support = runtime_support(path, min_runtime=opts.min_runtime, settings=settings)
        details = {
            "quantization": quantization.value,
            "route": AEQ_ROUTE if per_layer else ROUTE,
            **quantizer_details,
            "ops": ops,
            "builtin_ops_only": True,
            "labels_in_model": f"TFLite metadata ({METADATA_NAME}, output tensor associated file {LABELS_FILE} "
                               "of type TENSOR_AXIS_LABELS) + zip-appended labels.txt",
            "representative_set": representative.describe() if representative else None,
        }
        if note:
            details["parity_note"] = note
        return Built(main_file=MAIN_FILE, details=details, input_spec=input_spec, output_spec=output_spec,
                     runtime_support=support)

    _import_converter()
    return write_artifact(
        source=source, out_dir=out_dir, name=name or default_name(opts), fmt="tflite", quantization=quantization.value, convert=convert
    )


def _import_converter() -> None:
    """Import TensorFlow before write_artifact starts its clock: conversion.seconds times the conversion, not imports."""
    from edgevit.keras_backend import import_tf

    import_tf()


class RepresentativeSet:
    """Calibration images for int8: a seeded sample of the training split, preprocessed like training."""

    def __init__(self, root: Path, paths: list[Path], source: SavedModelSource):
        self.root, self.paths, self.source = root, paths, source

    @classmethod
    def from_source(cls, source: SavedModelSource, opts: TFLiteOptions) -> "RepresentativeSet":
        from edgevit.data.folders import load_image_folders

        recorded = (source.manifest.get("dataset") or {}).get("root")
        if opts.data is None and recorded is None:
            raise DataError("TFLite int8 needs training images to calibrate on and the SavedModel's manifest records none; pass --data ROOT")
        root = Path(opts.data if opts.data is not None else recorded)
        if not root.is_dir():
            where = "" if opts.data is not None else " (the dataset root recorded in the SavedModel's manifest)"
            raise DataError(f"{root}{where} does not exist; TFLite int8 calibrates on its train split: pass --data ROOT")
        folders = load_image_folders(root, splits=("train",))
        labels = list(source.manifest["labels"])
        if list(folders.class_names) != labels:
            raise DataError(
                f"{root}/train has classes {list(folders.class_names)[:3]}... but the model was trained on "
                f"{labels[:3]}...; pass the data set the model was trained on (--data ROOT)"
            )
        paths = list(folders.split("train").paths)
        rng = np.random.default_rng(opts.representative_seed)
        chosen = rng.permutation(len(paths))[: opts.representative_images]
        return cls(root, [paths[i] for i in sorted(chosen)], source)

    def __call__(self):
        """Yields one preprocessed image at a time, read lazily (a ViT-L/32 sample of 100 is 60 MB)."""
        from edgevit.data.preprocess import preprocess
        from edgevit.manifest import preprocessing_of

        spec = preprocessing_of(self.source.manifest)
        for path in self.paths:
            yield {self.source.input_name: preprocess(path, spec)[None]}

    def describe(self) -> dict:
        return {"root": str(self.root.resolve()), "split": "train", "images": len(self.paths),
                "first": str(self.paths[0].relative_to(self.root)) if self.paths else None}


# Converter settings that keep op versions an older TFLite runtime implements: (converter attribute, the modes
# it is for, the runtime that first runs what the converter writes without it, what it changes). Measured on
# TF 2.21's converter with the tiny ViT (tests/unit/exporters/test_runtime_support.py): dynamic-range dense
# layers with per-channel int8 weights are FULLY_CONNECTED version 12 (TFLite 2.17.0), one scale per weight
# tensor keeps them at version 9; fp32, fp16 and int8 need TFLite 2.9.0 (GELU) with or without it.
OLDER_OP_SETTINGS = (
    ("_experimental_disable_per_channel_quantization_for_dense_layers", (TFLiteQuantization.DYNAMIC,), "2.17.0",
     "dense layers quantized with one weight scale per tensor, not per output channel"),
)


def older_op_settings(min_runtime: str | None, quantization: TFLiteQuantization) -> dict[str, bool]:
    """The converter attributes to set so that TFLite runtime `min_runtime` can load the model ({} for None)."""
    if min_runtime is None:
        return {}
    return {attribute: True for attribute, modes, first_runtime, _ in OLDER_OP_SETTINGS
            if quantization in modes and is_newer(first_runtime, min_runtime)}


def check_loads_in(model: bytes, min_runtime: str) -> None:
    """ExportError naming the op and version when TFLite runtime `min_runtime` cannot load `model`."""
    needed = min_runtime_version(model)
    ops = op_versions(model)
    newer = ops_needing_newer(ops, min_runtime)
    if not newer and (needed is None or not is_newer(needed, min_runtime)):
        return
    if newer:
        op, version, needs = max(newer, key=lambda found: parse_version(found[2]))
        why = f"{op} version {version} needs TFLite {needs}"
    else:  # the converter's metadata says newer, for an op version compat.py's table does not place
        why = f"its ops ({', '.join(f'{op} version {v}' for op, v in ops_not_in_table(ops))}) need TFLite {needed}"
    raise ExportError(f"TFLite {min_runtime} cannot load this model: {why}, and no converter setting edgevit knows "
                      f"keeps an older one; pass --min-runtime {needs if newer else needed} or later")


def runtime_support(path: Path, *, min_runtime: str | None, settings: dict[str, bool]) -> dict:
    """The manifest's `runtime_support` block: the runtime the model's metadata asks for, and each op version with its own."""
    with open(path, "rb") as f:
        model = f.read()
    needed = min_runtime_version(model)
    ops = op_versions(model)
    return {
        "runtime": "TFLite (LiteRT, TensorFlowLiteSwift, the TFLite Task Library)",
        "min_runtime_version": needed,
        "requested_min_runtime": min_runtime,
        "converter_settings": settings,
        "ops": [{"op": op, "version": version, "min_runtime_version": tflite_op_runtime(op, version)} for op, version in ops],
        "summary": f"TFLite {needed}+" if needed else "TFLite (the model states no minimum runtime)",
        "sources": {"min_runtime_version": "the model's min_runtime_version metadata, written by the converter",
                    "ops": TFLITE_OP_RUNTIMES_SOURCE},
    }


def _convert(source: SavedModelSource, quantization: TFLiteQuantization, representative: RepresentativeSet | None,
             settings: dict[str, bool], float_io: bool = False) -> bytes:
    from edgevit.keras_backend import import_tf

    tf = import_tf()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(source.folder), signature_keys=[source.signature])
    for attribute, value in settings.items():
        setattr(converter, attribute, value)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # never SELECT_TF_OPS (Flex)
    if quantization is not TFLiteQuantization.FP32:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization is TFLiteQuantization.FP16:
        converter.target_spec.supported_types = [tf.float16]
    if quantization is TFLiteQuantization.INT8:
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not float_io:  # the converter's default is float32 input and output
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    try:
        return bytes(converter.convert())
    except EdgeVitError:
        raise  # e.g. a DataError from the representative set, raised mid-calibration
    except Exception as exc:  # ConverterError, ValueError, RuntimeError: the type depends on the converter stage
        text = str(exc).strip().splitlines()
        raise ExportError(f"the TFLite converter failed: {text[0] if text else type(exc).__name__}") from None


def _metadata(source: SavedModelSource) -> ClassifierMetadata:
    from edgevit.manifest import preprocessing_of

    spec = preprocessing_of(source.manifest)
    model = source.manifest.get("model") or {}
    labels = tuple(source.manifest["labels"])
    return ClassifierMetadata(
        name=f"edgevit {model.get('variant', 'vit')}",
        description=f"Image classifier, {len(labels)} classes, exported by edgevit from SavedModel {source.fingerprint[:12]}",
        version=source.fingerprint[:12],
        labels=labels,
        height=spec.height,
        width=spec.width,
        mean=spec.mean,
        std=spec.std,
        input_name=source.input_name,
        output_name=source.manifest["output"]["name"],
    )


def _io_specs(path: Path, source: SavedModelSource) -> tuple[dict, dict]:
    """Load the file in LiteRT (the runtime the artifact ships to) and describe its input and output tensors."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ExportError(f"LiteRT cannot load the converted model ({str(exc).strip().splitlines()[0]}); this is an exporter bug, report it") from None
    signatures = interpreter.get_signature_list()
    (inputs, outputs) = (interpreter.get_input_details(), interpreter.get_output_details())
    if len(inputs) != 1 or len(outputs) != 1:
        raise ExportError(f"{path.name} has {len(inputs)} inputs and {len(outputs)} outputs, expected one each")
    specs = []
    for base, detail, keys in (
        (source.manifest["input"], inputs[0], signatures.get(source.signature, {}).get("inputs")),
        (source.manifest["output"], outputs[0], signatures.get(source.signature, {}).get("outputs")),
    ):
        scale, zero_point = detail["quantization"]
        shape = [int(d) if d >= 0 else None for d in detail["shape_signature"]]
        spec = {**base, "shape": shape, "dtype": np.dtype(detail["dtype"]).name, "tensor_name": detail["name"],
                "signature": source.signature, "signature_key": (keys or [base["name"]])[0]}
        if scale:
            # Runners quantize the preprocessed float input as round(x / scale) + zero_point, and read
            # probabilities back as (q - zero_point) * scale.
            spec["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
        specs.append(spec)
    del interpreter
    return specs[0], specs[1]
