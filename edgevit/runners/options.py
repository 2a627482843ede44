"""How a runner should run (one frozen option set; each runtime reads what applies to it), and the
error a runtime raises when what was asked for does not exist on this machine."""

from __future__ import annotations

from dataclasses import dataclass

from edgevit.errors import ModelError, UsageError

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

    def __post_init__(self):
        if self.device not in DEVICES:
            raise UsageError(f"unknown device {self.device!r}; known: {', '.join(DEVICES)}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1):
            raise UsageError(f"threads must be a positive integer, got {self.threads!r}")
        if self.compute_units not in COMPUTE_UNITS:
            raise UsageError(f"unknown Core ML compute units {self.compute_units!r}; known: {', '.join(COMPUTE_UNITS)}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise UsageError(f"batch size must be a positive integer, got {self.batch_size!r}")
