"""How a runner should run (one frozen option set; each runtime reads what applies to it), and the
error a runtime raises when what was asked for does not exist on this machine."""

from __future__ import annotations

from dataclasses import dataclass

from edgevit.errors import ModelError, UsageError
from edgevit.formats import Runtime

DEVICES = ("auto", "cpu", "gpu")
COMPUTE_UNITS = ("all", "cpu_only", "cpu_and_gpu", "cpu_and_ne")


class RuntimeUnavailable(ModelError):
    """The runtime or device does not exist here (Core ML on Linux, no CUDA provider, ...): "not available", not a failure of the model.

    The one such error: runners raise it, and bench's runner factories raise and record it.
    """


class CannotVerify(RuntimeUnavailable):
    """The runtime here cannot run this model (the numpy MIL interpreter lacks one of its ops): the artifact may be
    fine, but its parity cannot be checked on this machine. verify reports "cannot verify", bench "not available"."""


@dataclass(frozen=True)
class RunnerOptions:
    # auto: the GPU path where the runtime has one here (ONNX Runtime's CUDA provider), else CPU.
    device: str = "auto"
    threads: int | None = None  # intra-op threads; None: the runtime's own default
    xnnpack: bool = True  # LiteRT: the XNNPACK delegate (its default CPU path)
    compute_units: str = "all"  # Core ML on macOS
    batch_size: int = 32  # images per runtime call where the model takes a batch
    # Runtime settings that bench measures one by one (RUNTIME_SETTINGS); None: the runtime's own default.
    graph_optimization: str | None = None  # ONNX Runtime: disable | basic | extended | all
    inter_op_threads: int | None = None  # ONNX Runtime: threads across independent nodes
    spinning: bool | None = None  # ONNX Runtime: intra-op threads busy-wait between kernels
    xnnpack_latest: bool = False  # LiteRT: XNNPACK's newest operators and kernels (experimental_default_delegate_latest_features)
    weight_cache: bool = False  # LiteRT: XNNPACK's packed weights in a file mapped from disk (runners.litert_weight_cache)
    jit_compile: bool = False  # SavedModel: the serving function compiled by XLA

    def __post_init__(self):
        if self.device not in DEVICES:
            raise UsageError(f"unknown device {self.device!r}; known: {', '.join(DEVICES)}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1):
            raise UsageError(f"threads must be a positive integer, got {self.threads!r}")
        if self.compute_units not in COMPUTE_UNITS:
            raise UsageError(f"unknown Core ML compute units {self.compute_units!r}; known: {', '.join(COMPUTE_UNITS)}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise UsageError(f"batch size must be a positive integer, got {self.batch_size!r}")
        if self.graph_optimization not in (None, *GRAPH_OPTIMIZATIONS):
            raise UsageError(f"unknown graph optimization {self.graph_optimization!r}; known: {', '.join(GRAPH_OPTIMIZATIONS)}")


GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")
_BOOLS = {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}

# The settings `edgevit bench --setting RUNTIME:KEY=VALUE` may vary, per runtime: key -> parser of its text.
# onednn is not a runner option: TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, at import (bench sets it first).
RUNTIME_SETTINGS: dict[str, dict[str, type | tuple]] = {
    Runtime.ONNXRUNTIME.value: {"graph_optimization": GRAPH_OPTIMIZATIONS, "inter_op_threads": int, "spinning": bool},
    Runtime.LITERT.value: {"xnnpack": bool, "xnnpack_latest": bool, "weight_cache": bool},
    Runtime.SAVEDMODEL.value: {"jit_compile": bool, "onednn": bool},
}
PROCESS_SETTINGS = {"onednn": "TF_ENABLE_ONEDNN_OPTS"}  # settings that are environment variables read at import


def parse_setting(text: str) -> tuple[str, tuple[tuple[str, object], ...]]:
    """'onnxruntime:graph_optimization=basic,spinning=false' -> (runtime, ((key, value), ...)); UsageError if unknown."""
    runtime, _, assignments = text.partition(":")
    if runtime not in RUNTIME_SETTINGS or not assignments:
        known = "; ".join(f"{rt}: {', '.join(keys)}" for rt, keys in RUNTIME_SETTINGS.items())
        raise UsageError(f"--setting takes RUNTIME:KEY=VALUE[,KEY=VALUE] (known: {known}), got '{text}'")
    pairs = []
    for assignment in assignments.split(","):
        key, _, value = assignment.partition("=")
        kind = RUNTIME_SETTINGS[runtime].get(key.strip())
        value = value.strip()
        if kind is None or not value:
            raise UsageError(f"--setting {text}: {runtime} knows {', '.join(RUNTIME_SETTINGS[runtime])}, got '{assignment}'")
        if kind is bool:
            if value.lower() not in _BOOLS:
                raise UsageError(f"--setting {text}: {key} takes true or false, got '{value}'")
            parsed = _BOOLS[value.lower()]
        elif kind is int:
            try:
                parsed = int(value)
            except ValueError:
                raise UsageError(f"--setting {text}: {key} takes an integer, got '{value}'") from None
        elif value not in kind:
            raise UsageError(f"--setting {text}: {key} takes one of {', '.join(kind)}, got '{value}'")
        else:
            parsed = value
        pairs.append((key.strip(), parsed))
    return runtime, tuple(pairs)
