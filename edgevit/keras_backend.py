"""Which Keras backend runs, and importing Keras/TensorFlow once, quietly: TensorFlow, JAX or PyTorch.

Keras reads KERAS_BACKEND once, when it is first imported, so the choice is made before that
(`activate_backend`), and a process that already imported Keras with another backend is told so
instead of silently training on the wrong one. Installed-ness is checked without importing the
frameworks (importing TensorFlow costs seconds and grabs GPU memory).
"""

from __future__ import annotations

import enum
import importlib.util
import os
import sys

from edgevit.errors import UsageError


class Backend(str, enum.Enum):
    TENSORFLOW = "tensorflow"
    JAX = "jax"
    TORCH = "torch"


# The framework's importable module name, and the packages whose versions a run records.
_MODULE = {Backend.TENSORFLOW: "tensorflow", Backend.JAX: "jax", Backend.TORCH: "torch"}
VERSION_PACKAGES = {
    Backend.TENSORFLOW: ("tensorflow", "tensorflow-cpu"),
    Backend.JAX: ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin"),
    Backend.TORCH: ("torch",),
}
# Preference when none is named: the SavedModel needs TensorFlow, so a machine that has it trains with it.
_PREFERENCE = (Backend.TENSORFLOW, Backend.JAX, Backend.TORCH)
INSTALL_HINT = "install it (JAX for CPU: pip install -e '.[backends]')"


def is_installed(backend: Backend) -> bool:
    return importlib.util.find_spec(_MODULE[backend]) is not None


def available_backends() -> list[Backend]:
    return [b for b in _PREFERENCE if is_installed(b)]


def default_backend() -> Backend:
    """TensorFlow if importable, else JAX, else PyTorch (TensorFlow when none is: Keras' own default)."""
    available = available_backends()
    return available[0] if available else Backend.TENSORFLOW


def parse_backend(name: str | Backend | None) -> Backend:
    """A backend name -> Backend (None: the default); UsageError listing the known names."""
    if name is None:
        return default_backend()
    try:
        return Backend(name)
    except ValueError:
        raise UsageError(f"unknown backend '{name}'; known backends: {', '.join(b.value for b in Backend)}") from None


def loaded_keras_backend() -> str | None:
    """The backend of the Keras already imported in this process, None if Keras is not imported yet."""
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    return keras.backend.backend()


def activate_backend(name: str | Backend | None) -> Backend:
    """Make `name` the Keras backend of this process; call before the first `import keras`.

    Idempotent when Keras is already running on that backend. UsageError if the framework is not
    installed or Keras was already imported with another backend (KERAS_BACKEND is per process).
    """
    backend = parse_backend(name)
    if not is_installed(backend):
        installed = ", ".join(b.value for b in available_backends()) or "none"
        raise UsageError(f"backend '{backend.value}' is not installed here (installed: {installed}); {INSTALL_HINT} or pick another --backend")
    loaded = loaded_keras_backend()
    if loaded is not None and loaded != backend.value:
        raise UsageError(
            f"Keras is already running on the {loaded} backend in this process; start a new process with "
            f"KERAS_BACKEND={backend.value} (or the `edgevit` command with --backend {backend.value})"
        )
    os.environ["KERAS_BACKEND"] = backend.value
    return backend


def backend_versions(backend: Backend) -> dict[str, str]:
    """Installed versions of the backend's packages (those present), for manifests and results."""
    from importlib import metadata

    versions = {}
    for package in VERSION_PACKAGES[backend]:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def accelerator_names(backend: Backend) -> list[str]:
    """The accelerators (GPUs/TPUs) the backend sees; empty on a CPU-only machine. Imports the framework."""
    if backend is Backend.TENSORFLOW:
        return [d.name for d in import_tf().config.list_physical_devices("GPU")]
    if backend is Backend.JAX:
        import jax

        return [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices() if d.platform != "cpu"]
    import torch

    return [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]


def device_description(backend: Backend) -> str:
    """e.g. 'GPU (gpu:0 (NVIDIA H100 80GB HBM3)) via jax' or 'CPU via tensorflow'."""
    accelerators = accelerator_names(backend)
    where = f"GPU ({', '.join(accelerators)})" if accelerators else "CPU"
    return f"{where} via {backend.value}"


def import_keras():
    """Return the keras module; its backend is KERAS_BACKEND, else TensorFlow if installed, else JAX, else torch."""
    os.environ.setdefault("KERAS_BACKEND", default_backend().value)
    import keras

    return keras


def import_tf():
    import tensorflow as tf

    return tf
