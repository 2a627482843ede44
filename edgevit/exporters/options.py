"""What each format can build: its options as frozen dataclasses, and their defaults.

The formats and their quantization modes themselves are rows of edgevit.formats. This module
describes "what" only: it imports no converter, so the CLI and recipes can check options and name
artifacts before any heavy work starts (each conversion then runs in its own process).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

from edgevit.compat import parse_version
from edgevit.errors import UsageError
from edgevit.formats import EXPORT_FORMATS, CoreMLQuantization, Format, OnnxQuantization, TFLiteQuantization, find_mode
from edgevit.formats import parse_format as _parse_format


def _enum_value(enum_type: type[enum.Enum], value, what: str):
    try:
        return enum_type(value)
    except ValueError:
        known = ", ".join(m.value for m in enum_type)
        raise UsageError(f"unknown {what} {value!r}; known: {known}") from None


def _float_layers(options) -> tuple[str, ...]:
    """float_layers as a tuple of Keras layer paths (edgevit.layer_names says how converters keep them); only a
    mode of FLOAT_LAYER_MODES, the modes with a per-layer precision mechanism, may name any."""
    layers = options.float_layers
    if isinstance(layers, str) or not all(isinstance(name, str) and name for name in layers):
        raise UsageError(f"float_layers must be a list of Keras layer names, got {layers!r}")
    if layers and (options.format, options.quantization) not in FLOAT_LAYER_MODES:
        raise UsageError(f"float_layers keeps layers of a quantized model in float ({float_layer_modes_text()}); "
                         f"{options.format.value} {options.quantization.value} has none to keep")
    return tuple(layers)


def _int_in(value, choices: tuple[int, ...], what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in choices:
        raise UsageError(f"{what} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


class TFLiteQuantizer(enum.StrEnum):
    """What quantizes a TFLite dynamic model's weights."""

    CONVERTER = "converter"  # the TFLite converter's dynamic range: the whole model or none of it
    AI_EDGE_QUANTIZER = "ai-edge-quantizer"  # AI Edge Quantizer's recipe on the float .tflite, per op


@dataclass(frozen=True)
class TFLiteOptions:
    format: ClassVar[Format] = Format.TFLITE
    quantization: TFLiteQuantization = TFLiteQuantization.DYNAMIC
    # int8 only: ROOT/train/<CLASS>/* images for calibration; None = the dataset root in the SavedModel's manifest.
    data: str | None = None
    # int8 only: how many training images calibrate the activation ranges.
    representative_images: int = 100
    representative_seed: int = 0
    # The oldest TFLite runtime that must load the artifact ("2.14"): converter settings that keep older op
    # versions, and the export fails naming the op when it cannot. None: whatever the converter writes.
    min_runtime: str | None = None
    # int8 only: float32 input and output, quantized and dequantized inside the model. TensorFlowLiteSwift
    # (the iOS app's runtime) cannot read or write int8 tensors (its Tensor.DataType has no int8 case).
    float_io: bool = False
    # dynamic only: Keras layer paths (e.g. "Transformer_encoderblock_3") whose ops stay float; chosen by
    # `edgevit export --fit-gate`. Built through AI Edge Quantizer: the converter has one switch for the whole model.
    float_layers: tuple[str, ...] = ()
    # dynamic only: what quantizes the weights. None: the TFLite converter, or AI Edge Quantizer when float_layers
    # are named; "ai-edge-quantizer" always (its dynamic_wi8_afp32 recipe on the float .tflite: what every step of
    # a --fit-gate search is built with, so that the steps differ in their float layers only).
    quantizer: TFLiteQuantizer | None = None

    def __post_init__(self):
        object.__setattr__(self, "quantization", _enum_value(TFLiteQuantization, self.quantization, "TFLite quantization"))
        object.__setattr__(self, "float_layers", _float_layers(self))
        if self.quantizer is not None:
            object.__setattr__(self, "quantizer", _enum_value(TFLiteQuantizer, self.quantizer, "TFLite quantizer"))
            if self.quantization is not TFLiteQuantization.DYNAMIC:
                raise UsageError(f"quantizer chooses what quantizes TFLite dynamic; {self.quantization.value} has one route")
            if self.float_layers and self.quantizer is TFLiteQuantizer.CONVERTER:
                raise UsageError("float_layers needs the ai-edge-quantizer quantizer: the TFLite converter quantizes the whole model or none of it")
        if self.min_runtime is not None:
            if not isinstance(self.min_runtime, str):  # a TOML number would turn 2.10 into 2.1
                raise UsageError(f"min_runtime must be a version in quotes, like \"2.14\", got {self.min_runtime!r}")
            parse_version(self.min_runtime, what="--min-runtime")
            object.__setattr__(self, "min_runtime", self.min_runtime.strip())
        count = self.representative_images
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise UsageError(f"representative_images must be a positive integer, got {count!r}")
        if self.data is not None:
            object.__setattr__(self, "data", str(self.data))
        if self.quantization is not TFLiteQuantization.INT8 and self.data is not None:
            raise UsageError(f"--data is only used by TFLite int8 (the representative set), not {self.quantization.value}")
        if not isinstance(self.float_io, bool):
            raise UsageError(f"float_io must be true or false, got {self.float_io!r}")
        if self.float_io and self.quantization is not TFLiteQuantization.INT8:
            raise UsageError(f"--float-io is for TFLite int8 (whose tensors are otherwise int8); {self.quantization.value} already has float input and output")

    @property
    def uses_ai_edge_quantizer(self) -> bool:
        return self.quantizer is TFLiteQuantizer.AI_EDGE_QUANTIZER or bool(self.float_layers)


ONNX_OPSETS = tuple(range(13, 19))  # measured: tf2onnx 1.17 fails on 19+ for this graph


@dataclass(frozen=True)
class OnnxOptions:
    format: ClassVar[Format] = Format.ONNX
    quantization: OnnxQuantization = OnnxQuantization.FP32
    opset: int = 17
    # int8-dynamic only: Keras layer paths (e.g. "Transformer_encoderblock_3") whose MatMuls stay float
    # (quantize_dynamic's nodes_to_exclude); chosen by `edgevit export --fit-gate`.
    float_layers: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "quantization", _enum_value(OnnxQuantization, self.quantization, "ONNX quantization"))
        _int_in(self.opset, ONNX_OPSETS, "ONNX opset (tf2onnx fails on 19+)")
        object.__setattr__(self, "float_layers", _float_layers(self))


COREML_MINIMUM_IOS = (16, 17, 18)  # iOS 16 is the first target with compressed-weight (constexpr) ops


@dataclass(frozen=True)
class CoreMLOptions:
    format: ClassVar[Format] = Format.COREML
    quantization: CoreMLQuantization = CoreMLQuantization.FP16
    minimum_ios: int = 16
    # int8 / palettize6 / palettize4 only: Keras layer paths whose weights stay uncompressed (coremltools
    # OptimizationConfig op_name_configs set to None for the layer's ops); chosen by `edgevit export --fit-gate`.
    float_layers: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "quantization", _enum_value(CoreMLQuantization, self.quantization, "Core ML quantization"))
        _int_in(self.minimum_ios, COREML_MINIMUM_IOS, "Core ML minimum iOS")
        object.__setattr__(self, "float_layers", _float_layers(self))

    @property
    def compute_precision(self) -> str:
        """fp32 or fp16: only the fp32 mode computes in float32."""
        return (CoreMLQuantization.FP32 if self.quantization is CoreMLQuantization.FP32 else CoreMLQuantization.FP16).value

    @property
    def compression(self) -> str:
        """none | int8 | palettize6 | palettize4."""
        return "none" if self.quantization in (CoreMLQuantization.FP16, CoreMLQuantization.FP32) else self.quantization.value


ExportOptions = TFLiteOptions | OnnxOptions | CoreMLOptions

OPTIONS: dict[Format, type] = {Format.TFLITE: TFLiteOptions, Format.ONNX: OnnxOptions, Format.COREML: CoreMLOptions}

# The modes whose exporter can keep named layers in float (their `float_layers` option), and the options every
# build of a per-layer search (`edgevit export --fit-gate`) takes, so that its steps differ in float layers only.
FLOAT_LAYER_MODES: dict[tuple[Format, enum.StrEnum], dict] = {
    (Format.ONNX, OnnxQuantization.INT8_DYNAMIC): {},
    (Format.TFLITE, TFLiteQuantization.DYNAMIC): {"quantizer": TFLiteQuantizer.AI_EDGE_QUANTIZER.value},
    # coremltools OptimizationConfig(op_name_configs={weight: None}) leaves those weights uncompressed
    (Format.COREML, CoreMLQuantization.INT8): {},
    (Format.COREML, CoreMLQuantization.PALETTIZE6): {},
    (Format.COREML, CoreMLQuantization.PALETTIZE4): {},
}


def float_layer_modes_text() -> str:
    """The modes of FLOAT_LAYER_MODES as "format quantization, ..." for messages."""
    return ", ".join(f"{fmt.value} {quantization.value}" for fmt, quantization in FLOAT_LAYER_MODES)


def parse_format(name: str) -> Format:
    """A format edgevit can export to (not the SavedModel it exports from); UsageError listing them."""
    return _parse_format(name, EXPORT_FORMATS)


def make_options(fmt: Format | str, options: dict) -> ExportOptions:
    """The format's options from keyword values; UsageError naming the known options for an unknown one."""
    fmt = parse_format(fmt)
    cls = OPTIONS[fmt]
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UsageError(f"unknown {fmt.value} option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return cls(**options)


def options_to_dict(options: ExportOptions) -> dict:
    """JSON-ready: enums as their values, unset optional values (None, an empty float_layers) left out."""
    out = {}
    for key, value in asdict(options).items():
        if value is None or value == ():
            continue
        if isinstance(value, tuple):
            value = list(value)
        out[key] = value.value if isinstance(value, enum.Enum) else str(value) if isinstance(value, Path) else value
    return out


def default_name(options: ExportOptions) -> str:
    """`<format>-<quantization>`, e.g. tflite-dynamic, onnx-fp32, coreml-int8; `-float-io` for TFLite int8 with float
    tensors; `-rt<version>` after it when the artifact is built for an older runtime (tflite-dynamic-rt2.14), so it
    never takes the default one's place."""
    name = find_mode(options.format, options.quantization).artifact_name
    if getattr(options, "float_io", False):
        name += "-float-io"
    min_runtime = getattr(options, "min_runtime", None)
    return f"{name}-rt{min_runtime}" if min_runtime else name


def parity_note(options: ExportOptions) -> str | None:
    """What to check before shipping this mode (edgevit.formats), None for the modes that need no warning."""
    return find_mode(options.format, options.quantization).parity_note
