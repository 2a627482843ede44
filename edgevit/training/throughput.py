"""Training throughput of the recipe's train step: images/s and MFU per batch size, on one device.

The model is the recipe's (edgevit.training.train.build_training_model + compile_recipe: Adam, mixed
precision, the backend's compiler) with random weights. Two inputs:
  synthetic  one batch made once and kept on the device, fed again every step: the step's compute
             alone (TensorFlow: a repeated tf.data batch, copied from host memory each step);
  images     real files decoded, resized and normalised every step by the training feed
             (edgevit.data.feed, --data-workers threads, nothing cached): whether loading keeps up.
Each batch size gets a fresh model; `warmup_steps` steps (compilation included) run first, then
`steps` steps are timed as one fit() call, wall clock from its start until its last step finished.
A batch size that fails (out of memory, say) is a status with its one-line reason, not a crash.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgevit.keras_backend import Backend, activate_backend, backend_versions, device_description
from edgevit.config import Preprocessing
from edgevit.training.precision import COMPUTE_DTYPES, Precision

logger = logging.getLogger(__name__)

INPUTS = ("synthetic", "images")
SCHEMA = "edgevit-train-bench-v1"


@dataclass(frozen=True)
class BenchConfig:
    backend: Backend
    variant: str = "vit-l32"
    image_size: int | None = None  # None: the variant's default (224 for ViT-L/32)
    num_classes: int = 250  # the reference case: 250 bird species
    trainable_blocks: int | str = "all"
    batch_sizes: tuple[int, ...] = (32, 64, 128, 256)
    steps: int = 20
    warmup_steps: int = 3
    precision: Precision = Precision.BF16
    jit_compile: bool | None = None  # None: Keras' choice (jax.jit on JAX, XLA on a TF GPU, eager torch)
    input: str = "synthetic"
    images: Path | None = None  # a folder of class folders (or a data root with train/); None: synthetic birds drawn here
    synth_images: int = 512  # how many synthetic birds to draw when `images` is None
    data_workers: int | None = None
    peak_n: int = 8192
    command: str = field(default_factory=lambda: shlex.join(["python", *sys.argv]))


def _device_batch(backend: Backend, batch_size: int, image_size: int, num_classes: int):
    """One (images, labels) batch on the default device; the values do not change the speed."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype(np.float32)  # the feed's range
    y = rng.integers(0, num_classes, batch_size).astype(np.int32)
    if backend is Backend.JAX:
        import jax

        return jax.device_put(x), jax.device_put(y)
    if backend is Backend.TORCH:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
    return x, y


def _synthetic_data(backend: Backend, batch):
    if backend is Backend.TENSORFLOW:
        from edgevit.keras_backend import import_tf

        tf = import_tf()
        return tf.data.Dataset.from_tensors(batch).repeat().prefetch(2)

    def forever():
        while True:
            yield batch

    return forever()


def _image_source(config: BenchConfig, spec: Preprocessing, workdir: Path):
    """(SplitPixels decoding from files, labels) of the image folder, or of synthetic birds drawn now."""
    from edgevit.data.feed import FeedOptions, SplitPixels
    from edgevit.data.folders import load_image_folders

    root = config.images
    if root is None:
        from edgevit.data.synth import write_synthetic_birds

        root = workdir / "birds"
        per_class = max(1, config.synth_images // 10)
        write_synthetic_birds(root, num_classes=10, per_class=per_class, eval_per_class=1, image_size=spec.height, seed=0)
    root = Path(root)
    split = load_image_folders(root, splits=("train",)).split("train") if (root / "train").is_dir() else _class_folder_split(root)
    return SplitPixels(split, spec, FeedOptions(workers=1, cache_bytes=0)), split.labels % config.num_classes


def _class_folder_split(root: Path):
    from edgevit.data.folders import load_image_folders

    # A bare folder of class folders is read as the 'train' split of a root one level up.
    return load_image_folders(root.parent, splits=(root.name,)).split(root.name)


def _feed(keras, source, labels, *, batch_size: int, steps: int, workers: int):
    from edgevit.data.feed import FeedOptions, batches

    order = np.resize(np.arange(len(labels)), batch_size * steps)  # cycle through the files
    return batches(keras, source, labels, order, batch_size, FeedOptions(workers=workers, cache_bytes=0))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def time_batch_size(keras, config: BenchConfig, batch_size: int, *, image_source=None, workers: int = 1) -> dict:
    """Warm up, then time `steps` train steps at `batch_size`; a failure is returned as a status."""
    from edgevit.models import ClassifierConfig, resolve_trainable_blocks, resolve_variant
    from edgevit.training.train import build_training_model, compile_recipe

    spec = resolve_variant(config.variant)
    image_size = config.image_size or spec.default_image_size
    model_config = ClassifierConfig(variant=spec.name, image_size=image_size, num_classes=config.num_classes, noise_stddev=0.01,
                                    trainable_blocks=resolve_trainable_blocks(spec, config.trainable_blocks))
    row = {"batch_size": batch_size, "input": config.input, "warmup_steps": config.warmup_steps, "steps": config.steps}
    model = None
    try:
        keras.utils.set_random_seed(0)
        model = build_training_model(keras, model_config, config.precision)
        compile_recipe(keras, model, learning_rate=spec.default_learning_rate, precision=config.precision, jit_compile=config.jit_compile)
        if config.input == "synthetic":
            batch = _device_batch(config.backend, batch_size, image_size, config.num_classes)
            warm, timed = _synthetic_data(config.backend, batch), _synthetic_data(config.backend, batch)
        else:
            source, labels = image_source
            warm = _feed(keras, source, labels, batch_size=batch_size, steps=config.warmup_steps, workers=workers)
            timed = _feed(keras, source, labels, batch_size=batch_size, steps=config.steps, workers=workers)
        started = time.perf_counter()
        model.fit(warm, steps_per_epoch=config.warmup_steps, epochs=1, shuffle=False, verbose=0)
        row["warmup_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        history = model.fit(timed, steps_per_epoch=config.steps, epochs=1, shuffle=False, verbose=0)
        seconds = time.perf_counter() - started  # fit returns after the last step's loss is on the host
        loss = float(history.history["loss"][0])
    except Exception as exc:  # out of memory and compiler failures are results at this batch size
        row.update(status="failed", reason=_one_line(exc))
        return row
    finally:
        jit = getattr(model, "jit_compile", None)
        del model
        keras.backend.clear_session()
        gc.collect()
    row.update(status="ok", reason=None, jit_compile=bool(jit), seconds=seconds, step_ms=1e3 * seconds / config.steps,
               images_per_s=batch_size * config.steps / seconds, loss=loss)
    return row


def run_bench(config: BenchConfig) -> dict:
    """Measure the matmul peak, then every batch size; the result dict (see write_results). Progress is logged (INFO)."""
    activate_backend(config.backend)
    from edgevit.data.feed import default_workers
    from edgevit.keras_backend import import_keras
    from edgevit.portable.machine import fingerprint as machine_fingerprint
    from edgevit.training.mfu import measure_matmul_peak, mfu, training_flops_per_image
    from edgevit.model_cost import vit_cost
    from edgevit.models import resolve_trainable_blocks, resolve_variant

    if config.input not in INPUTS:
        raise ValueError(f"unknown input '{config.input}'; known: {', '.join(INPUTS)}")
    keras = import_keras()
    spec = resolve_variant(config.variant)
    image_size = config.image_size or spec.default_image_size
    blocks = resolve_trainable_blocks(spec, config.trainable_blocks)
    forward = vit_cost(spec, image_size=image_size, num_classes=config.num_classes)
    train_flops = training_flops_per_image(spec, image_size=image_size, num_classes=config.num_classes, trainable_blocks=blocks)
    dtype = COMPUTE_DTYPES[config.precision]
    logger.info(f"command: {config.command}")
    logger.info(f"device: {device_description(config.backend)}; keras {keras.__version__}")
    peak = measure_matmul_peak(config.backend, dtype=dtype, n=config.peak_n)
    logger.info(f"peak: {peak['flops_best'] / 1e12:.3g} TFLOP/s best, {peak['flops_median'] / 1e12:.3g} median "
                f"({dtype} {config.peak_n}^3 matmul, {peak['samples']} samples of {peak['calls_per_sample']} calls)")
    workers = config.data_workers or default_workers()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgevit-train-bench-") as workdir:
        image_source = None
        if config.input == "images":
            image_source = _image_source(config, Preprocessing(height=image_size, width=image_size), Path(workdir))
            logger.info(f"images: {len(image_source[1])} files decoded every step by {workers} threads")
        for batch_size in config.batch_sizes:
            row = time_batch_size(keras, config, batch_size, image_source=image_source, workers=workers)
            if row["status"] == "ok":
                row["achieved_flops"] = train_flops * row["images_per_s"]
                row["mfu"] = mfu(flops_per_image=train_flops, images_per_s=row["images_per_s"], peak_flops=peak["flops_best"])
                logger.info(f"batch {batch_size}: {row['step_ms']:.1f} ms/step, {row['images_per_s']:.1f} images/s "
                            f"({config.steps} steps timed after {config.warmup_steps} warm-up), {row['achieved_flops'] / 1e12:.3g} TFLOP/s "
                            f"= {100 * row['mfu']:.1f}% MFU")
            else:
                logger.info(f"batch {batch_size}: failed: {row['reason']}")
            rows.append(row)
    return {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": config.command,
        "machine": machine_fingerprint(),
        "device": device_description(config.backend),
        "backend": config.backend.value,
        "versions": {"python": platform.python_version(), "keras": keras.__version__, **backend_versions(config.backend)},
        "model": {"variant": spec.name, "image_size": image_size, "num_classes": config.num_classes, "trainable_blocks": blocks,
                  "params": forward.params, "forward_flops_per_image": forward.flops, "training_flops_per_image": train_flops},
        "precision": config.precision.value,
        "jit_compile_requested": config.jit_compile,
        "input": config.input,
        "data_workers": workers if config.input == "images" else None,
        "peak": peak,
        "runs": rows,
    }


def results_stem(result: dict) -> str:
    """train_<variant>_<precision>_<input>_<machine id>_<YYYY-MM-DD>: committed results are named by machine and date."""
    day = result["created"][:10]
    return f"train_{result['model']['variant']}_{result['precision']}_{result['input']}_{result['machine']['id']}_{day}"


def markdown(result: dict) -> str:
    model, peak = result["model"], result["peak"]
    lines = [
        f"# Training throughput: {model['variant']} at {model['image_size']} px, {result['precision']}, {result['input']} input",
        "",
        f"- command: `{result['command']}`",
        f"- machine: `{result['machine']['id']}`; device: {result['device']}",
        f"- versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}",
        f"- model: {model['params']:,} parameters, {model['trainable_blocks']} trainable blocks, {model['num_classes']} classes; "
        f"{model['forward_flops_per_image'] / 1e9:.3g} GFLOP forward and {model['training_flops_per_image'] / 1e9:.3g} GFLOP "
        "training (forward + 2x forward for the layers that train) per image, matrix multiplies counted from the config",
        f"- peak: {peak['flops_best'] / 1e12:.3g} TFLOP/s ({peak['dtype']} {peak['n']}x{peak['n']}x{peak['n']} matmul, best of "
        f"{peak['samples']} samples of {peak['calls_per_sample']} calls; median {peak['flops_median'] / 1e12:.3g}), measured in this run",
        f"- created: {result['created']}",
        "",
        "| batch | status | step (ms) | images/s | achieved TFLOP/s | MFU | compiled |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for row in result["runs"]:
        if row["status"] == "ok":
            lines.append(f"| {row['batch_size']} | ok | {row['step_ms']:.1f} | {row['images_per_s']:.1f} | "
                         f"{row['achieved_flops'] / 1e12:.3g} | {100 * row['mfu']:.1f}% | {'yes' if row['jit_compile'] else 'no'} |")
        else:
            lines.append(f"| {row['batch_size']} | failed: {row['reason']} | | | | | |")
    steps = {(r["warmup_steps"], r["steps"]) for r in result["runs"]}
    lines += ["", "Each row: " + "; ".join(f"{w} warm-up steps, then {s} steps timed as one fit() call" for w, s in sorted(steps))
              + ". MFU = training FLOPs per image x images/s / the measured peak."]
    return "\n".join(lines) + "\n"


def write_results(result: dict, folder: Path) -> tuple[Path, Path]:
    from edgevit.fsutil import atomic_write_json, atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = results_stem(result)
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    atomic_write_json(json_path, result)
    atomic_write_text(md_path, markdown(result))
    return json_path, md_path
