"""An .mlpackage's MIL program, read from its spec into plain Python objects the interpreter walks.

Only the spec is read (coremltools `MLModel(path, skip_model_load=True).get_spec()`): it works on
Linux, where Core ML itself cannot load the model. Constants and compile-time (constexpr) weight
decompression are evaluated once here; what remains are the ops that run per prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgevit.errors import ModelError
from edgevit.runners.mil.values import BlobFiles, decode_value, dtype_name, tensor_shape

MAIN_FUNCTION = "main"


@dataclass(frozen=True)
class ValueSpec:
    """A named variable's declared type: the interpreter rounds and checks results against it."""

    name: str
    kind: str  # "tensor", "list", "dictionary", ...
    dtype: str | None  # MIL type name for tensors ("FLOAT16", "INT32", ...)
    shape: tuple[int, ...] | None  # None when not static


@dataclass(frozen=True)
class Ref:
    """An op input bound to a named variable (another op's output or a function input)."""

    name: str


@dataclass
class Operation:
    type: str
    name: str
    inputs: dict[str, list]  # input name -> bindings: Ref or an inline value
    attributes: dict[str, object]  # decoded (name excluded)
    outputs: list[ValueSpec]


@dataclass
class Program:
    path: Path
    opset: str
    inputs: list[ValueSpec]
    outputs: list[str]
    operations: list[Operation]  # in program order, constants included
    op_types: dict[str, int] = field(default_factory=dict)


def load_program(path: Path) -> Program:
    """Parse the main function of an mlprogram .mlpackage (ModelError if it is not one)."""
    import coremltools as ct  # its import-time warnings are filtered by edgevit.console

    path = Path(path)
    try:
        model = ct.models.MLModel(str(path), skip_model_load=True)
        spec = model.get_spec()
    except Exception as exc:  # coremltools raises many types for a damaged package
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a readable .mlpackage ({reason}); re-export it with `edgevit export --format coreml`") from None
    if spec.WhichOneof("Type") != "mlProgram":
        raise ModelError(f"{path}: not an ML program (model type {spec.WhichOneof('Type')}); export with convert_to='mlprogram'")
    functions = spec.mlProgram.functions
    if MAIN_FUNCTION not in functions:
        raise ModelError(f"{path}: the ML program has no '{MAIN_FUNCTION}' function")
    function = functions[MAIN_FUNCTION]
    block = function.block_specializations[function.opset]
    blobs = BlobFiles(Path(model.weights_dir))
    operations = [_operation(op, blobs, path) for op in block.operations]
    counts: dict[str, int] = {}
    for op in operations:
        counts[op.type] = counts.get(op.type, 0) + 1
    return Program(
        path=path,
        opset=function.opset,
        inputs=[_value_spec(v.name, v.type) for v in function.inputs],
        outputs=list(block.outputs),
        operations=operations,
        op_types=dict(sorted(counts.items())),
    )


def _operation(op, blobs: BlobFiles, path: Path) -> Operation:
    if len(op.blocks):
        raise ModelError(f"{path}: op {op.type} has nested blocks (control flow), which the numpy interpreter does not run")
    inputs = {}
    for key, argument in op.inputs.items():
        inputs[key] = [Ref(b.name) if b.WhichOneof("binding") == "name" else _Lazy(b.value, blobs) for b in argument.arguments]
    attributes = {k: _Lazy(v, blobs) for k, v in op.attributes.items() if k != "name"}
    name = op.outputs[0].name if op.outputs else op.type
    return Operation(op.type, name, inputs, attributes, [_value_spec(o.name, o.type) for o in op.outputs])


class _Lazy:
    """A value decoded when asked for, so unsupported ops are listed before any weight is read.

    Not cached: the interpreter evaluates constants once and keeps its own (rounded) copy; caching
    here too would hold every weight twice (2.4 GB for ViT-L/32).
    """

    def __init__(self, message, blobs: BlobFiles):
        self._message, self._blobs = message, blobs

    def get(self):
        return decode_value(self._message, self._blobs)


def resolve(binding):
    """An inline input or attribute value, decoded."""
    return binding.get() if isinstance(binding, _Lazy) else binding


def _value_spec(name: str, value_type) -> ValueSpec:
    kind = value_type.WhichOneof("type")
    if kind == "tensorType":
        return ValueSpec(name, "tensor", dtype_name(value_type.tensorType.dataType), tensor_shape(value_type.tensorType))
    return ValueSpec(name, kind.removesuffix("Type"), None, None)


