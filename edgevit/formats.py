"""The one table of what each model format is: its quantization modes, their gates and notes, its runtimes.

Every other module asks this table instead of spelling a format, mode or runtime by name, so adding
a format (ExecuTorch, TensorRT) is a row here plus its exporter and runner modules (CONTRIBUTING.md).

    FORMATS[Format.ONNX].runtimes[0].name          -> Runtime.ONNXRUNTIME
    find_mode("tflite", "int8").gate                -> Gate(min_agreement=0.97, max_accuracy_drop=1.0)
    default_runtime("coreml")                       -> Runtime.COREML on macOS, COREML_MIL_NUMPY elsewhere

Enums are StrEnums: a member equals, hashes and prints as its value, so a format read from a
manifest ("tflite") looks up the same rows as Format.TFLITE. Imports nothing heavy, and nothing of
edgevit but errors: every layer may read it.
"""

from __future__ import annotations

import enum
import platform
from dataclasses import asdict, dataclass

from edgevit.errors import UsageError


class Format(enum.StrEnum):
    SAVEDMODEL = "savedmodel"  # what `edgevit train` writes: the reference every artifact is compared with
    TFLITE = "tflite"
    ONNX = "onnx"
    COREML = "coreml"


REFERENCE_FORMAT = Format.SAVEDMODEL
EXPORT_FORMATS = tuple(f for f in Format if f is not REFERENCE_FORMAT)


class SavedModelQuantization(enum.StrEnum):
    FP32 = "fp32"  # the trained weights as they are


class TFLiteQuantization(enum.StrEnum):
    DYNAMIC = "dynamic"  # int8 weights, float activations (weight-only): what the reference case shipped
    FP32 = "fp32"
    FP16 = "fp16"  # fp16 weights, dequantized to float32 at load
    INT8 = "int8"  # full integer: int8 weights, activations, input and output; needs a representative set


class OnnxQuantization(enum.StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"  # weights and activations fp16, float32 input and output
    INT8_DYNAMIC = "int8-dynamic"  # ORT quantize_dynamic: int8 weights, per-batch uint8 activations
    INT8_WEIGHTS = "int8-weights"  # MatMulNBits, 8-bit blockwise weights, float32 activations and compute (weight-only)
    INT4_WEIGHTS = "int4-weights"  # MatMulNBits, 4-bit blockwise weights (block 32), float32 activations and compute


class CoreMLQuantization(enum.StrEnum):
    """Compute precision plus weight compression; every compressed option computes in fp16."""

    FP16 = "fp16"
    FP32 = "fp32"
    INT8 = "int8"  # linear symmetric int8 weights
    PALETTIZE6 = "palettize6"  # 6-bit k-means lookup table per weight
    PALETTIZE4 = "palettize4"


class Runtime(enum.StrEnum):
    SAVEDMODEL = "savedmodel"  # TensorFlow itself: the reference runtime
    LITERT = "litert"
    ONNXRUNTIME = "onnxruntime"
    COREML = "coreml"  # Apple's Core ML framework (macOS only)
    COREML_MIL_NUMPY = "coreml-mil-numpy"  # Core ML's program run in numpy on any OS: emulated, a parity reference


REFERENCE_RUNTIME = Runtime.SAVEDMODEL

# ---------------------------------------------------------------------------------------------
# Parity gates

GATE_KEYS = ("min_agreement", "max_accuracy_drop", "max_abs_error")


@dataclass(frozen=True)
class Gate:
    """What an artifact must match against the reference on a labelled split (edgevit.verify.gates applies it).

    max_abs_error      largest |artifact probability - reference probability| (float formats)
    min_agreement      fraction of images with the same top-1 class as the reference (quantized formats)
    max_accuracy_drop  reference accuracy minus artifact accuracy, in percentage points
    """

    min_agreement: float | None = None
    max_accuracy_drop: float | None = None  # percentage points
    max_abs_error: float | None = None
    source: str = ""  # where the numbers came from, for reports

    def limits(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k in GATE_KEYS and v is not None}

    def to_dict(self) -> dict:
        return {**self.limits(), "source": self.source}


def _float_gate(max_abs_error: float) -> Gate:
    return Gate(max_abs_error=max_abs_error)


def _quantized_gate(min_agreement: float, max_accuracy_drop: float) -> Gate:
    return Gate(min_agreement=min_agreement, max_accuracy_drop=max_accuracy_drop)


# ---------------------------------------------------------------------------------------------
# The rows

FLOAT32, INT8 = "float32", "int8"  # the GEMM dtypes bench measures peaks in


@dataclass(frozen=True)
class Mode:
    """One quantization mode of one format: how closely it must match the reference, and what to warn about."""

    format: Format
    quantization: enum.StrEnum
    gate: Gate  # verify's default parity gate
    # Golden vectors on a device also bound the probabilities of quantized modes, whose verify gate judges
    # decisions only: a broken port moves probabilities by tenths, healthy weight-only int8 by hundredths.
    device_max_abs_error: float | None = None
    parity_note: str | None = None  # said before and after building: the modes likeliest to miss their gate
    parity_risk: str | None = None  # written into the artifact's manifest details (ONNX ranks its modes)
    matmul_dtype: str = FLOAT32  # what its matrix multiplies compute in (bench holds it against that GEMM peak)

    @property
    def artifact_name(self) -> str:
        """The default artifact folder name, `<format>-<quantization>`."""
        return f"{self.format.value}-{self.quantization.value}"


@dataclass(frozen=True)
class RuntimeSpec:
    name: Runtime
    format: Format
    runner: str  # "module:Class" of its edgevit.runners.base.Runner, imported when opened
    package: str  # the pip distribution that provides it
    module: str  # the Python module it imports first (bench times that import apart from loading)
    system: str | None = None  # platform.system() it needs; None: any. A format's default is its first that runs here.


@dataclass(frozen=True)
class FormatSpec:
    format: Format
    title: str  # for help texts
    quantization: type[enum.StrEnum]
    build_packages: tuple[str, ...]  # pip distributions that write it (recorded in every manifest's tool versions)
    runtimes: tuple[RuntimeSpec, ...]


_SAVEDMODEL_RUNTIMES = (
    RuntimeSpec(Runtime.SAVEDMODEL, Format.SAVEDMODEL, "edgevit.runners.savedmodel:SavedModelRunner", "tensorflow-cpu",
                "tensorflow"),
)
_TFLITE_RUNTIMES = (
    RuntimeSpec(Runtime.LITERT, Format.TFLITE, "edgevit.runners.litert:LiteRTRunner", "ai-edge-litert",
                "ai_edge_litert.interpreter"),
)
_ONNX_RUNTIMES = (
    RuntimeSpec(Runtime.ONNXRUNTIME, Format.ONNX, "edgevit.runners.ort:OnnxRuntimeRunner", "onnxruntime", "onnxruntime"),
)
_COREML_RUNTIMES = (
    RuntimeSpec(Runtime.COREML, Format.COREML, "edgevit.runners.coreml:CoreMLRunner", "coremltools", "coremltools",
                system="Darwin"),
    RuntimeSpec(Runtime.COREML_MIL_NUMPY, Format.COREML, "edgevit.runners.coreml_mil:CoreMLMilRunner", "coremltools",
                "coremltools"),
)

FORMATS: dict[Format, FormatSpec] = {
    spec.format: spec
    for spec in (
        FormatSpec(Format.SAVEDMODEL, "SavedModel", SavedModelQuantization, ("tensorflow-cpu",), _SAVEDMODEL_RUNTIMES),
        # ai-edge-quantizer builds too: per-layer precision (float_layers) quantizes the float .tflite with it.
        FormatSpec(Format.TFLITE, "TFLite", TFLiteQuantization, ("tensorflow-cpu", "ai-edge-quantizer"), _TFLITE_RUNTIMES),
        # onnxruntime builds too: its quantize_dynamic writes int8-dynamic.
        FormatSpec(Format.ONNX, "ONNX", OnnxQuantization, ("tf2onnx", "onnx", "onnxruntime"), _ONNX_RUNTIMES),
        FormatSpec(Format.COREML, "Core ML", CoreMLQuantization, ("coremltools",), _COREML_RUNTIMES),
    )
}

# Float modes must reproduce the probabilities; quantized ones the decisions. Looser where the method is
# lossier: full-integer activations (TFLite int8, ORT's per-batch uint8 activations) and 4-bit palettes lose
# more than int8 weights with float activations. Rows in the order error messages list them.
MODES: dict[tuple[Format, enum.StrEnum], Mode] = {
    (mode.format, mode.quantization): mode
    for mode in (
        Mode(Format.SAVEDMODEL, SavedModelQuantization.FP32, _float_gate(1e-4)),
        Mode(Format.TFLITE, TFLiteQuantization.FP32, _float_gate(1e-4)),
        Mode(Format.TFLITE, TFLiteQuantization.FP16, _float_gate(1e-2)),
        Mode(Format.TFLITE, TFLiteQuantization.DYNAMIC, _quantized_gate(0.995, 0.3), device_max_abs_error=0.05,
             matmul_dtype=INT8),
        Mode(Format.TFLITE, TFLiteQuantization.INT8, _quantized_gate(0.97, 1.0), device_max_abs_error=0.15,  # activations too
             parity_note="full-integer activations are calibrated on a sample of the training split; verify top-1 agreement",
             matmul_dtype=INT8),
        Mode(Format.ONNX, OnnxQuantization.FP32, _float_gate(1e-4),
             parity_risk="lowest: same arithmetic as the SavedModel"),
        Mode(Format.ONNX, OnnxQuantization.FP16, _float_gate(1e-2),
             parity_risk="low: weights and activations rounded to fp16, float32 inputs and outputs"),
        Mode(Format.ONNX, OnnxQuantization.INT8_DYNAMIC, _quantized_gate(0.90, 3.0), device_max_abs_error=0.15,
             parity_note="the riskiest option for parity (int8 weights and per-batch uint8 activations in every MatMul); "
                         "run `edgevit verify` before shipping it",
             parity_risk="highest: int8 weights and per-batch uint8 activations in MatMul/Conv; check top-1 agreement",
             matmul_dtype=INT8),
        # Weight-only blockwise quantization dequantizes in the kernel and computes in float32, like TFLite dynamic's weights.
        Mode(Format.ONNX, OnnxQuantization.INT8_WEIGHTS, _quantized_gate(0.995, 0.3), device_max_abs_error=0.05,
             parity_risk="low: 8-bit weights per block of 32, float32 activations"),
        Mode(Format.ONNX, OnnxQuantization.INT4_WEIGHTS, _quantized_gate(0.95, 2.0), device_max_abs_error=0.15,  # 16 levels
             parity_note="4-bit weights lose the most of the weight-only modes; verify top-1 agreement before shipping it",
             parity_risk="high: 16 weight levels per block of 32, float32 activations"),
        # Core ML's compressed modes compress weights only and compute in float.
        Mode(Format.COREML, CoreMLQuantization.FP32, _float_gate(1e-4)),
        Mode(Format.COREML, CoreMLQuantization.FP16, _float_gate(1e-2)),
        Mode(Format.COREML, CoreMLQuantization.INT8, _quantized_gate(0.99, 0.5), device_max_abs_error=0.05),
        Mode(Format.COREML, CoreMLQuantization.PALETTIZE6, _quantized_gate(0.98, 1.0), device_max_abs_error=0.05),
        Mode(Format.COREML, CoreMLQuantization.PALETTIZE4, _quantized_gate(0.95, 2.0),  # 16 weight values per tensor
             device_max_abs_error=0.15),
    )
}

RUNTIMES: dict[Runtime, RuntimeSpec] = {rt.name: rt for spec in FORMATS.values() for rt in spec.runtimes}


# ---------------------------------------------------------------------------------------------
# Lookups. Names come from users and manifests as plain strings; StrEnum keys match them.


def parse_format(name: str, among: tuple[Format, ...] = tuple(Format)) -> Format:
    """The format called `name` (one of `among`); UsageError listing the known ones."""
    if name in among:
        return Format(name)
    raise UsageError(f"unknown format {name!r}; known: {', '.join(f.value for f in among)}")


def find_mode(fmt: str, quantization: str) -> Mode | None:
    """The row of `fmt`/`quantization`, None when the table has none (artifacts of other tools, typos)."""
    return MODES.get((fmt, quantization))


def mode_names(formats: tuple[Format, ...] = tuple(Format)) -> list[str]:
    """"format/quantization" of every mode of `formats`, in table order: for "known: ..." messages."""
    return [f"{m.format.value}/{m.quantization.value}" for m in MODES.values() if m.format in formats]


def parse_runtime(name: str) -> RuntimeSpec:
    """The runtime called `name`; UsageError listing the known ones."""
    if name in RUNTIMES:
        return RUNTIMES[name]
    raise UsageError(f"unknown runtime {name!r}; known: {', '.join(r.value for r in RUNTIMES)}")


def runtimes_of(fmt: str) -> tuple[RuntimeSpec, ...]:
    """Every runtime that runs `fmt`, default first on its OS; () for a format the table does not know."""
    spec = FORMATS.get(fmt)
    return spec.runtimes if spec is not None else ()


def default_runtime(fmt: str, system: str | None = None) -> Runtime:
    """The runtime used for `fmt` when none is named: its first that runs on `system` (default: this OS)."""
    system = system or platform.system()
    for runtime in runtimes_of(fmt):
        if runtime.system in (None, system):
            return runtime.name
    raise UsageError(f"no runtime for artifact format {fmt!r}; known formats: {', '.join(f.value for f in FORMATS)}")


def matmul_dtype(fmt: str, quantization: str) -> str:
    """The dtype an artifact's matrix multiplies compute in; float32 for modes the table does not know."""
    mode = find_mode(fmt, quantization)
    return mode.matmul_dtype if mode is not None else FLOAT32


def packages() -> tuple[str, ...]:
    """The pip distributions that build or run any format, each once: builders first, then runtimes."""
    names = [p for spec in FORMATS.values() for p in spec.build_packages]
    names += [rt.package for rt in RUNTIMES.values()]
    return tuple(dict.fromkeys(names))
