"""Fake artifacts and a fake runtime with known timings, for the bench, records and report tests.

The fake runner advances a fake clock by scripted durations, so every statistic the bench computes
has an exact expected value. `allocating_factory` is module-level so a spawned bench child can import
it; its runner holds a known amount of memory, to check that peak RSS is per artifact.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgevit.bench.targets import target_name
from edgevit.fsutil import atomic_write_bytes
from edgevit.manifest import write_manifest
from edgevit.runners.base import RunnerInfo

# A machine block with no accelerator (GPU rows must say "not available"), and the same with one.
NO_GPU_MACHINE = {"id": "test-machine", "os": "Linux", "os_release": "6", "arch": "x86_64", "cpu_model": "Test CPU",
                  "cpu_cores_logical": 2, "cpu_cores_physical": 2, "cpu_features": ["avx2"], "memory_bytes": 2**34,
                  "device_model": None, "python": "3.11", "accelerators": []}
GPU_MACHINE = {**NO_GPU_MACHINE, "accelerators": [{"kind": "gpu", "name": "Test GPU", "memory_bytes": 2**34, "driver": "1"}]}

NUM_CLASSES = 3
IMAGE_SIZE = 8


class FakeClock:
    """A nanosecond clock that only moves when told to."""

    def __init__(self) -> None:
        self.now_ns = 0

    def __call__(self) -> int:
        return self.now_ns

    def advance_ms(self, ms: float) -> None:
        self.now_ns += round(ms * 1_000_000)


class ScriptedRunner:
    """predict() of a batch of n takes duration_ms(n) on the fake clock and returns uniform probabilities."""

    def __init__(self, clock: FakeClock, duration_ms: Callable[[int], float], *, device: str = "cpu", threads: int | None = 1):
        self.clock, self.duration_ms = clock, duration_ms
        self.info = RunnerInfo(runtime="fake", version="0.0", device=device, threads=threads)
        self.calls: list[int] = []
        self.closed = False

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.calls.append(len(images))
        self.clock.advance_ms(self.duration_ms(len(images)))
        return np.full((len(images), NUM_CLASSES), 1 / NUM_CLASSES, np.float32)

    def close(self) -> None:
        self.closed = True


def scripted_factory(clock: FakeClock, *, load_ms: float, durations_ms, opened: list | None = None):
    """A runner factory whose load takes `load_ms` and whose runner follows `durations_ms`."""

    def factory(target, *, runtime, device, threads):
        clock.advance_ms(load_ms)
        script = iter(durations_ms)
        runner = ScriptedRunner(clock, lambda batch: next(script), device=device, threads=threads)
        if opened is not None:
            opened.append(runner)
        return runner

    return factory


def constant_factory(clock: FakeClock, ms_by_name: dict[str, float], *, batch_ms_per_image: float | None = None):
    """A batch-1 call of artifact NAME takes ms_by_name[NAME]; a batch of n takes n x batch_ms_per_image."""

    def factory(target, *, runtime, device, threads):
        ms = ms_by_name[target_name(target)]
        per_image = batch_ms_per_image if batch_ms_per_image is not None else ms
        return ScriptedRunner(clock, lambda batch: ms if batch == 1 else per_image * batch, device=device, threads=threads)

    return factory


class AllocatingRunner:
    """Holds manifest['fake_alloc_mb'] MiB of touched memory while open; each predict takes ~1 ms."""

    def __init__(self, megabytes: int, device: str, threads: int | None):
        self.block = np.ones(megabytes * 2**20, np.uint8)  # np.ones touches every page: it is resident
        self.info = RunnerInfo(runtime="fake-alloc", version="0.0", device=device, threads=threads)

    def predict(self, images: np.ndarray) -> np.ndarray:
        time.sleep(0.001)
        return np.full((len(images), NUM_CLASSES), 1 / NUM_CLASSES, np.float32)

    def close(self) -> None:
        self.block = None


def allocating_factory(target, *, runtime, device, threads):
    return AllocatingRunner(int(target.manifest["fake_alloc_mb"]), device, threads)


def fake_runtimes(target) -> list[str]:
    return ["fake"]


def write_fake_artifact(root: Path, name: str, *, fmt: str = "tflite", quantization: str = "fp32", size: int = 1000,
                        batch: int | None = None, model: dict | None = None, **extra) -> Path:
    """An artifact folder with a model file of `size` bytes and a manifest like the exporters write."""
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "model.bin", bytes(size))
    manifest = {
        "schema_version": 1, "kind": "artifact", "name": name, "format": fmt, "quantization": quantization,
        "file": "model.bin", "file_size": size, "sha256": hashlib.sha256(name.encode()).hexdigest(),
        "input": {"name": "images", "shape": [batch, IMAGE_SIZE, IMAGE_SIZE, 3], "dtype": "float32", "layout": "NHWC"},
        "output": {"name": "probabilities", "shape": [batch, NUM_CLASSES], "dtype": "float32"},
        "preprocessing": {"height": IMAGE_SIZE, "width": IMAGE_SIZE, "resize": "bilinear", "color": "RGB", "layout": "NHWC",
                          "mean": [127.5] * 3, "std": [127.5] * 3},
        "labels": [f"class{i}" for i in range(NUM_CLASSES)],
        "model": model,
        "source": {"fingerprint": "f" * 64},
        **extra,
    }
    write_manifest(folder, manifest)
    return folder

