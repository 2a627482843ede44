"""Runtimes behind one protocol (base.Runner), chosen by name from edgevit.formats' runtime table.

    runner = open_runner(None, "out/tflite-dynamic")                    # the format's default runtime
    runner = open_runner("litert", path, threads=2, xnnpack=False)
    probabilities = runner.predict(preprocessed_images)                 # (N, H, W, 3) float32 -> (N, C)
    runner.close()

Runtimes (edgevit.formats.RUNTIMES): savedmodel (the reference), litert, onnxruntime, coreml (macOS
only), coreml-mil-numpy (Core ML's program in numpy on any OS: emulated, a parity reference). A
runtime or device missing here raises RuntimeUnavailable. Each runtime module is imported only when
it is opened.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from edgevit.errors import UsageError
from edgevit.artifact import Artifact, open_artifact
from edgevit.formats import default_runtime, parse_runtime
from edgevit.runners.base import Runner, RunnerInfo
from edgevit.runners.options import CannotVerify, RunnerOptions, RuntimeUnavailable


def runner_for(artifact: Artifact, *, runtime: str | None = None, options: RunnerOptions = RunnerOptions()) -> Runner:
    """Open `artifact` in `runtime` (None: its format's default)."""
    spec = parse_runtime(runtime or default_runtime(artifact.format))
    if artifact.format != spec.format:
        raise UsageError(f"runtime {spec.name} runs {spec.format} models, not {artifact.format} ({artifact.folder})")
    module_name, class_name = spec.runner.split(":")
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
    **settings,
) -> Runner:
    """Read the artifact folder's manifest (or a SavedModel's), check its file, and open it in `runtime`.
    `settings`: runtime settings of RunnerOptions (graph_optimization, spinning, xnnpack_latest, jit_compile, ...)."""
    options = RunnerOptions(device=device, threads=threads, xnnpack=xnnpack, compute_units=compute_units, batch_size=batch_size,
                            **settings)
    return runner_for(open_artifact(folder), runtime=runtime, options=options)


__all__ = ["Artifact", "CannotVerify", "Runner", "RunnerInfo", "RunnerOptions", "RuntimeUnavailable", "open_artifact", "open_runner", "runner_for"]
