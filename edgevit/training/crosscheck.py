"""A few epochs of the training recipe on one backend from given weights and pixels: the cross-backend check.

    python -m edgevit.training.crosscheck --backend jax --model '{"variant": "tiny", ...}' \
        --weights W.weights.h5 --data D.npz [--epochs 3] [--batch-size 8] [--devices 2] [--precision fp32]

Keras' backend is fixed per process, so each backend runs in its own process. The check builds the
classifier (edgevit.training.train.build_training_model), loads the weights, compiles the recipe
(edgevit.training.train.compile_recipe), trains through the training feed (edgevit.data.feed: D.npz holds
uint8 `pixels` (N, H, W, 3) and int `labels`) on the requested devices and precision, in file order,
and prints one JSON line per run (`--runs` runs several in one process):
  epoch_losses  the recipe's loss of each epoch as fit() reports it (one batch per epoch: the loss of
                the weights before that epoch's update, so epoch 1 checks the forward pass and later
                epochs the gradients and the Adam update);
  final_loss    mean cross-entropy of the trained weights on all pixels, recomputed in float32 on one
                device in float64 numpy (independent of how fit() averages padded or uneven batches).
Switch the input noise off (noise_stddev 0): each backend draws different random numbers.

`--host-devices N` splits the host CPU into N devices, to check data parallelism on a machine
without accelerators (JAX: XLA's host platform device count; TensorFlow: logical CPU devices).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from edgevit.console import configure_from_environment
from edgevit.keras_backend import Backend, activate_backend


def split_host_cpu(backend: Backend, count: int) -> None:
    """Expose `count` CPU devices; call before the backend's framework is first used."""
    if count <= 1:
        return
    if backend is Backend.JAX:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={count}".strip()
    elif backend is Backend.TENSORFLOW:
        from edgevit.keras_backend import import_tf

        tf = import_tf()
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    else:
        raise ValueError("--host-devices is available for jax and tensorflow only")


def run_check(*, backend: Backend, model: dict, weights: Path, data: Path, epochs: int, batch_size: int,
              devices: int, precision: str, learning_rate: float) -> dict:
    from edgevit.config import Preprocessing
    from edgevit.data.feed import FeedOptions, SplitPixels, batches
    from edgevit.data.preprocess import normalize
    from edgevit.training.distribute import distribution_scope, place
    from edgevit.keras_backend import import_keras
    from edgevit.models import ClassifierConfig, build_classifier
    from edgevit.training.precision import parse_precision
    from edgevit.training.train import build_training_model, compile_recipe

    keras = import_keras()
    keras.backend.clear_session()  # several runs in one process: start each from a clean slate
    config = ClassifierConfig.from_dict(model)
    spec = Preprocessing(height=config.image_size, width=config.image_size)
    with np.load(data) as arrays:
        pixels, labels = arrays["pixels"], arrays["labels"].astype(np.int32)
    placement = place(backend, devices, batch_size=batch_size)
    options = FeedOptions(workers=1, pad_to_multiple=placement.pad_to_multiple)
    source = SplitPixels.from_array(pixels, spec)
    epoch_losses = []
    with distribution_scope(keras, placement):
        trained = build_training_model(keras, config, parse_precision(precision))
        trained.load_weights(str(weights))
        compile_recipe(keras, trained, learning_rate=learning_rate, precision=parse_precision(precision), jit_compile=None)
        for _ in range(epochs):
            history = trained.fit(batches(keras, source, labels, np.arange(len(labels)), batch_size, options), epochs=1, shuffle=False, verbose=0)
            epoch_losses.append(float(history.history["loss"][0]))
    fresh = build_classifier(config)
    fresh.set_weights(trained.get_weights())
    # An eager call: no second compilation for ten images.
    probs = keras.ops.convert_to_numpy(fresh(normalize(pixels, spec), training=False)).astype(np.float64)
    final_loss = float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12)).mean())
    return {
        "backend": backend.value,
        "keras_backend": keras.backend.backend(),
        "devices": list(placement.devices),
        "precision": precision,
        "epoch_losses": epoch_losses,
        "final_loss": final_loss,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgevit.training.crosscheck", description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", required=True, choices=[b.value for b in Backend])
    p.add_argument("--model", required=True, help="ClassifierConfig as JSON (the manifest's 'model' block)")
    p.add_argument("--weights", required=True, help="a .weights.h5 of that model")
    p.add_argument("--data", required=True, help=".npz with uint8 'pixels' (N, H, W, 3) and int 'labels' (N,)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=None, help="default: all pixels in one batch")
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--host-devices", type=int, default=1, help="split the CPU into this many devices (no accelerator needed)")
    p.add_argument("--precision", default="fp32")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--runs", default="[{}]",
                   help="JSON list of runs in this one process, each overriding epochs/batch_size/devices/precision (default: one run)")
    args = p.parse_args(argv)
    configure_from_environment()  # a process entry: third-party noise filtered as under the edgevit CLI
    backend = activate_backend(args.backend)
    split_host_cpu(backend, args.host_devices)
    with np.load(args.data) as arrays:
        count = len(arrays["labels"])
    defaults = {"epochs": args.epochs, "batch_size": args.batch_size or count, "devices": args.devices, "precision": args.precision}
    for overrides in json.loads(args.runs):
        unknown = set(overrides) - set(defaults)
        if unknown:
            p.error(f"--runs: unknown key(s) {sorted(unknown)}; known: {sorted(defaults)}")
        run = {**defaults, **overrides}
        result = run_check(backend=backend, model=json.loads(args.model), weights=Path(args.weights), data=Path(args.data),
                           learning_rate=args.lr, **run)
        print(json.dumps({"run": overrides, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
