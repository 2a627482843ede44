"""Run a MIL program op by op in numpy, rounding every result to its declared type (fp16 included).

This is a parity reference for Core ML on machines without Core ML (Linux), not a fast path. What it
emulates: fp16 storage between ops (each op computes in float32 from fp16 inputs and its result is
rounded to fp16), weight decompression as Core ML does at load. What it cannot reproduce: the exact
accumulation order and internal precision of Apple's CPU/GPU/Neural Engine kernels, so small
differences to a device remain; results are reported as "emulated".
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from edgevit.errors import ModelError
from edgevit.runners.mil.decompress import CONSTEXPR_OPS
from edgevit.runners.mil.fp16 import round_to_fp16, unary_on_fp16
from edgevit.runners.mil.ops import OPS as VIT_OPS, Args, erf
from edgevit.runners.mil.ops_cnn import CNN_OPS
from edgevit.runners.mil.ops_sequence import SEQUENCE_OPS
from edgevit.runners.mil.program import Operation, Program, Ref, ValueSpec, load_program, resolve
from edgevit.runners.options import CannotVerify

OPS = {**VIT_OPS, **CNN_OPS, **SEQUENCE_OPS}  # each op module adds the ops of one model family; no op is in two
SUPPORTED_OPS = ("const", *sorted(CONSTEXPR_OPS), *sorted(OPS))

# Ops whose outputs are copies of elements of the named inputs: fed fp16 values, they give fp16
# values, so rounding their results again could change nothing and is skipped (it was most of the
# time of a ViT's fp16 program). An inline (non-variable) data input keeps the rounding.
VALUE_PRESERVING_INPUTS = {
    "reshape": ("x",), "transpose": ("x",), "squeeze": ("x",), "expand_dims": ("x",),
    "slice_by_index": ("x",), "concat": ("values",), "identity": ("x",), "cast": ("x",),
    "split": ("x",), "stack": ("values",), "reverse": ("x",), "gather": ("x",),
    "gather_along_axis": ("x",), "tile": ("x",),
}
# Elementwise ops that, fed a variable declared FLOAT16, look their results up in a table of the
# same function over all fp16 values (see fp16.unary_on_fp16): erf was a tenth of a ViT's time.
FP16_TABLE_OPS = {"erf": unary_on_fp16(erf)}


def unsupported_ops(program: Program) -> list[str]:
    return sorted({op.type for op in program.operations if op.type not in SUPPORTED_OPS})


def conform(value, spec: ValueSpec, op: Operation, *, fp16_already: bool = False, fast: bool = True):
    """Round/cast `value` to the declared type of `spec` and check its static shape.

    fp16_already: the caller knows every element of `value` is an fp16 value (see
    VALUE_PRESERVING_INPUTS); it is copied, in the memory order rounding would give, not rounded.
    fast: round with fp16.round_to_fp16; False: with numpy's own fp16 casts (the same numbers, slower).
    """
    if spec.kind != "tensor":
        return value
    if spec.dtype == "FLOAT16":
        # Round to fp16 but keep float32 storage (numpy has no fast fp16 matmul).
        value = np.asarray(value, dtype=np.float32)
        if fp16_already:
            value = value.astype(np.float32, copy=True)
        else:
            value = round_to_fp16(value) if fast else value.astype(np.float16).astype(np.float32)
    elif spec.dtype in ("FLOAT32", "FLOAT64"):
        value = np.asarray(value, dtype=np.float32)
    elif spec.dtype == "STRING":
        value = np.asarray(value, dtype=np.str_)
    else:
        from edgevit.runners.mil.values import memory_dtype

        value = np.asarray(value).astype(memory_dtype(spec.dtype))
    if spec.shape is not None and tuple(value.shape) != spec.shape:
        raise ModelError(
            f"numpy MIL interpreter: {op.type} '{op.name}' gave shape {list(value.shape)}, the program declares "
            f"{list(spec.shape)}; this is an interpreter bug, report it"
        )
    return value


class MilInterpreter:
    """A loaded program with its constants (and decompressed weights) evaluated once."""

    def __init__(self, program: Program, *, fast: bool = True):
        """fast=False: numpy's fp16 cast after every op, none skipped, no tables: the interpreter as it was
        before those speed-ups, kept to check that they change no number (tests, benchmarks/mil_speed.py)."""
        missing = unsupported_ops(program)
        if missing:
            # Not a fault of the model: Core ML on a Mac may run it; the reference here cannot.
            raise CannotVerify(
                f"cannot verify Core ML here: op {', '.join(missing)} (the numpy MIL interpreter, Core ML's parity "
                f"reference on {platform.system()}, does not know {'it' if len(missing) == 1 else 'them'}); "
                "verify it on a Mac with `edgevit verify`"
            )
        self.program = program
        self.fast = fast
        self.input_specs = {spec.name: spec for spec in program.inputs}
        self._constants: dict[str, object] = {}
        self._steps: list[Operation] = []
        for op in program.operations:
            if op.type == "const" or op.type in CONSTEXPR_OPS:
                self._evaluate_constant(op)
            else:
                self._steps.append(op)
        declared = _declared_types(program)
        self._fp16_already = [fast and _keeps_fp16(op, declared) for op in self._steps]
        self._handlers = [_handler(op, declared) if fast else OPS[op.type] for op in self._steps]

    @classmethod
    def from_path(cls, path: Path, *, fast: bool = True) -> "MilInterpreter":
        return cls(load_program(path), fast=fast)

    def _evaluate_constant(self, op: Operation) -> None:
        if op.type == "const":
            value = resolve(op.attributes["val"])
        else:
            value = CONSTEXPR_OPS[op.type](self._args(op, self._constants))
        self._constants[op.outputs[0].name] = conform(value, op.outputs[0], op, fast=self.fast)

    def _args(self, op: Operation, env: dict) -> Args:
        values: dict[str, list] = {}
        for key, bindings in op.inputs.items():
            values[key] = [self._lookup(b, env, op) for b in bindings]
        for key, binding in op.attributes.items():
            values.setdefault(key, [resolve(binding)])
        return Args(op.type, values)

    def _lookup(self, binding, env: dict, op: Operation):
        if isinstance(binding, Ref):
            if binding.name in env:
                return env[binding.name]
            if binding.name in self._constants:
                return self._constants[binding.name]
            raise ModelError(f"{op.type} '{op.name}' reads '{binding.name}' before it is defined; the program is malformed")
        return resolve(binding)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, object]:
        """Feed the function inputs by name; return the block outputs by name."""
        return self.run_keeping(feeds, set())[0]

    def run_keeping(self, feeds: dict[str, np.ndarray], keep: set[str]) -> tuple[dict[str, object], dict[str, object]]:
        """As run, plus the values of the variables named in `keep` (layer-wise parity records them)."""
        env: dict[str, object] = {}
        for name, spec in self.input_specs.items():
            if name not in feeds:
                raise ModelError(f"the MIL program needs input '{name}', got {', '.join(feeds) or 'none'}")
            value = np.asarray(feeds[name])
            if spec.shape is not None and tuple(value.shape) != spec.shape:
                raise ModelError(f"input '{name}' must have shape {list(spec.shape)}, got {list(value.shape)}")
            env[name] = conform(value, spec, Operation("input", name, {}, {}, [spec]), fast=self.fast)
        for op, handler, fp16_already in zip(self._steps, self._handlers, self._fp16_already):
            result = handler(self._args(op, env))
            results = result if len(op.outputs) > 1 else (result,)
            if len(results) != len(op.outputs):
                raise ModelError(f"{op.type} '{op.name}' gave {len(results)} outputs for {len(op.outputs)} declared; interpreter bug")
            for spec, value in zip(op.outputs, results):
                env[spec.name] = conform(value, spec, op, fp16_already=fp16_already, fast=self.fast)
        outputs = {name: env[name] if name in env else self._constants[name] for name in self.program.outputs}
        return outputs, {name: env[name] for name in keep if name in env}


def _declared_types(program: Program) -> dict[str, str | None]:
    types = {spec.name: spec.dtype for spec in program.inputs if spec.kind == "tensor"}
    for op in program.operations:
        types.update((spec.name, spec.dtype) for spec in op.outputs if spec.kind == "tensor")
    return types


def _keeps_fp16(op: Operation, declared: dict[str, str | None]) -> bool:
    """True when `op` only moves elements of variables declared FLOAT16 into FLOAT16 outputs."""
    data_inputs = VALUE_PRESERVING_INPUTS.get(op.type)
    if data_inputs is None or not all(spec.kind == "tensor" and spec.dtype == "FLOAT16" for spec in op.outputs):
        return False
    bindings = [b for key in data_inputs for b in op.inputs.get(key, [])]
    return bool(bindings) and all(isinstance(b, Ref) and declared.get(b.name) == "FLOAT16" for b in bindings)


def _handler(op: Operation, declared: dict[str, str | None]):
    table = FP16_TABLE_OPS.get(op.type)
    bindings = op.inputs.get("x", [])
    if table is not None and len(bindings) == 1 and isinstance(bindings[0], Ref) and declared.get(bindings[0].name) == "FLOAT16":
        return lambda args: table(args["x"])
    return OPS[op.type]
