"""Data-parallel training on several devices through each framework's own distribution.

Every device holds a full copy of the weights and gets an equal slice of each global batch; the
gradients are summed across devices before the update, so N devices with --batch-size B train like
one device with B (up to float summation order). TensorFlow: tf.distribute.MirroredStrategy. JAX:
keras.distribution.DataParallel (a 1-D device mesh; XLA inserts the all-reduce). PyTorch: Keras
has no multi-device path for it (that needs torchrun/DDP), so more than one device is refused.

Devices are the accelerators the framework sees; on a machine without any, its CPU device(s).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from edgevit.keras_backend import Backend
from edgevit.errors import UsageError

ALL_DEVICES = "all"


def parse_devices(value: int | str) -> int | str:
    """--devices N (N >= 1) or 'all'."""
    if value == ALL_DEVICES:
        return ALL_DEVICES
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--devices must be a number or '{ALL_DEVICES}', got '{value}'") from None
    if count < 1:
        raise UsageError(f"--devices must be at least 1, got {count}")
    return count


def visible_devices(backend: Backend) -> list[str]:
    """Device names the backend can place a replica on: its accelerators, else its CPU device(s)."""
    if backend is Backend.TENSORFLOW:
        from edgevit.keras_backend import import_tf

        tf = import_tf()
        return [d.name for d in tf.config.list_logical_devices("GPU")] or [d.name for d in tf.config.list_logical_devices("CPU")]
    if backend is Backend.JAX:
        import jax

        accelerators = [d for d in jax.devices() if d.platform != "cpu"]
        return [f"{d.platform}:{d.id}" for d in (accelerators or jax.devices("cpu"))]
    import torch

    return [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cpu"]


@dataclass(frozen=True)
class Placement:
    backend: Backend
    devices: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.devices)

    @property
    def pad_to_multiple(self) -> int:
        """JAX shards each batch evenly over the mesh; TensorFlow splits uneven batches itself."""
        return self.count if self.backend is Backend.JAX else 1


def place(backend: Backend, requested: int | str, *, batch_size: int) -> Placement:
    """Pick the devices for `requested` ('all' or a count); UsageError when they are not there."""
    requested = parse_devices(requested)
    visible = visible_devices(backend)
    count = len(visible) if requested == ALL_DEVICES else requested
    if count > len(visible):
        raise UsageError(f"--devices {count}: the {backend.value} backend sees {len(visible)} ({', '.join(visible)}); pass --devices {len(visible)} or fewer")
    if count > 1 and backend is Backend.TORCH:
        raise UsageError("--devices > 1 is not available with the torch backend (Keras has no torch data parallelism); use --backend jax or tensorflow")
    if batch_size % count:
        raise UsageError(f"--batch-size {batch_size} does not split evenly over {count} devices; pass a multiple of {count}")
    return Placement(backend, tuple(visible[:count]))


@contextlib.contextmanager
def distribution_scope(keras, placement: Placement):
    """Build, compile and fit the model inside this block to replicate it over `placement`'s devices."""
    if placement.count == 1:
        yield
        return
    if placement.backend is Backend.TENSORFLOW:
        from edgevit.keras_backend import import_tf

        strategy = import_tf().distribute.MirroredStrategy(devices=list(placement.devices))
        with strategy.scope():
            yield
        return
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=list(placement.devices)))
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)
