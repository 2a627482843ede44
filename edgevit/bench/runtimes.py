"""The runtimes a target is measured on, opened through one factory so tests can substitute a fake runtime."""

from __future__ import annotations

import importlib
from typing import Callable

from edgevit.artifact import Artifact
from edgevit.formats import REFERENCE_RUNTIME, RUNTIMES, runtimes_of
from edgevit.portable.timing import Clock, time_once
from edgevit.runners.options import RuntimeUnavailable


# A factory raises edgevit.runners' RuntimeUnavailable when the runtime or device does not exist here.
RunnerFactory = Callable[..., object]  # (target, *, runtime, device, threads) -> Runner


def runtimes_for(target: Artifact) -> list[str]:
    """Every runtime of edgevit.formats that runs `target`'s format (each is measured or "not available")."""
    return [runtime.name.value for runtime in runtimes_of(target.format)]


def open_registered_runner(target: Artifact, *, runtime: str, device: str, threads: int | None, settings: dict | None = None):
    """The default factory: `runtime` from edgevit.runners, pinned to `device` with `threads` intra-op threads and
    the runtime `settings` of RunnerOptions (bench --setting)."""
    from edgevit import runners

    if runtime == REFERENCE_RUNTIME and threads is not None:
        _set_tensorflow_threads(threads)
    # By folder: the runner opens the artifact again with its integrity check, timed as part of the load.
    return runners.open_runner(runtime, target.folder, device=device, threads=threads, **(settings or {}))


def _set_tensorflow_threads(threads: int) -> None:
    """TensorFlow reads its thread counts once, at start-up: set them before the runner first touches it.

    Both pools get `threads`, which is TensorFlow's own default when `threads` is every core, so the
    "all" measurement is TensorFlow as users run it. Only valid in a fresh process (a bench child).
    """
    from edgevit.keras_backend import import_tf

    tf = import_tf()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as exc:  # TensorFlow already initialised in this process
        raise RuntimeUnavailable(f"TensorFlow was already running in this process, its threads cannot be set to {threads} "
                                 f"(run the bench isolated): {exc}") from None


def import_runtime_package(runtime: str, clock: Clock) -> float | None:
    """Import the runtime's Python module (edgevit.formats) before the load is timed: load time is opening
    the model, not `import tensorflow` (seconds, once per process); the import time is kept in
    runtime.details.import_ms. The milliseconds it took, or None (unknown runtime, or not installed)."""
    if runtime not in RUNTIMES:
        return None
    package = RUNTIMES[runtime].module
    try:
        _, ms = time_once(lambda: importlib.import_module(package), clock=clock)
    except ImportError:
        return None  # the runner's own open will say what is missing
    return ms
