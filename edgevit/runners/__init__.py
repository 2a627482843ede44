"""Runtimes behind one protocol (base.Runner), chosen by name from a plain dict.

    runner = open_runner(None, "out/tflite-dynamic")                    # the format's default runtime
    runner = open_runner("litert", path, threads=2, xnnpack=False)
    probabilities = runner.predict(preprocessed_images)                 # (N, H, W, 3) float32 -> (N, C)
    runner.close()

Runtimes: savedmodel (the reference), litert, onnxruntime, coreml (macOS only), coreml-mil-numpy
(Core ML's program in numpy on any OS: emulated, a parity reference). A runtime or device missing
here raises RuntimeUnavailable. Each runtime module is imported only when it is opened.
"""

from __future__ import annotations

import importlib
import platform
from pathlib import Path

from edgevit.errors import UsageError
from edgevit.artifact import Artifact, open_artifact
from edgevit.runners.base import Runner, RunnerInfo
from edgevit.runners.options import RunnerOptions, RuntimeUnavailable

# runtime name -> (module, class, format it runs)
RUNNERS: dict[str, tuple[str, str, str]] = {
    "savedmodel": ("edgevit.runners.savedmodel", "SavedModelRunner", "savedmodel"),
    "litert": ("edgevit.runners.litert", "LiteRTRunner", "tflite"),
    "onnxruntime": ("edgevit.runners.ort", "OnnxRuntimeRunner", "onnx"),
    "coreml": ("edgevit.runners.coreml", "CoreMLRunner", "coreml"),
    "coreml-mil-numpy": ("edgevit.runners.coreml_mil", "CoreMLMilRunner", "coreml"),
}
# Every runtime that can run a format (bench measures each; "not available" where missing).
RUNTIMES_BY_FORMAT: dict[str, list[str]] = {}
for _name, (_, _, _fmt) in RUNNERS.items():
    RUNTIMES_BY_FORMAT.setdefault(_fmt, []).append(_name)


def default_runtime(fmt: str) -> str:
    """The runtime used for a format when none is named (Core ML: the real one on macOS, the emulator elsewhere)."""
    if fmt == "coreml":
        return "coreml" if platform.system() == "Darwin" else "coreml-mil-numpy"
    if fmt not in RUNTIMES_BY_FORMAT:
        raise UsageError(f"no runtime for artifact format {fmt!r}; known formats: {', '.join(RUNTIMES_BY_FORMAT)}")
    return RUNTIMES_BY_FORMAT[fmt][0]


def runner_for(artifact: Artifact, *, runtime: str | None = None, options: RunnerOptions = RunnerOptions()) -> Runner:
    """Open `artifact` in `runtime` (None: its format's default)."""
    name = runtime or default_runtime(artifact.format)
    if name not in RUNNERS:
        raise UsageError(f"unknown runtime {name!r}; known: {', '.join(RUNNERS)}")
    module_name, class_name, fmt = RUNNERS[name]
    if artifact.format != fmt:
        raise UsageError(f"runtime {name} runs {fmt} models, not {artifact.format} ({artifact.folder})")
    runner_class = getattr(importlib.import_module(module_name), class_name)
    return runner_class(artifact, options)


def open_runner(
    runtime: str | None,
    folder: Path | str,
    *,
    device: str = "auto",
    threads: int | None = None,
    xnnpack: bool = True,
    compute_units: str = "all",
    batch_size: int = 32,
) -> Runner:
    """Read the artifact folder's manifest (or a SavedModel's), check its file, and open it in `runtime`."""
    options = RunnerOptions(device=device, threads=threads, xnnpack=xnnpack, compute_units=compute_units, batch_size=batch_size)
    return runner_for(open_artifact(folder), runtime=runtime, options=options)


__all__ = [
    "RUNNERS", "RUNTIMES_BY_FORMAT", "Artifact", "Runner", "RunnerInfo", "RunnerOptions", "RuntimeUnavailable",
    "default_runtime", "open_artifact", "open_runner", "runner_for",
]
