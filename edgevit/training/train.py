"""The fine-tuning recipe of the reference case -> SavedModel + manifest.json.

ViT (include_top off, pretrained top off) with all but the last blocks frozen, Gaussian noise on the
input, a softmax Dense head, learning rate x0.1 every 7 epochs, early stopping on validation accuracy
(best weights restored) and a checkpoint every epoch that `--resume` continues from exactly.

It runs on any Keras backend (edgevit.keras_backend), in float32 or mixed precision (edgevit.training.precision),
on one or several devices (edgevit.training.distribute). The SavedModel needs TensorFlow: on another backend
the run keeps the best weights and the manifest, and `edgevit savedmodel RUN_DIR` writes the
SavedModel from them on a machine with TensorFlow (edgevit.savedmodel.deferred).
"""

from __future__ import annotations

import logging
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgevit.keras_backend import Backend, activate_backend, backend_versions, device_description, is_installed
from edgevit.config import Preprocessing, TrainConfig
from edgevit.data.batches import epoch_order
from edgevit.data.feed import FeedOptions, SplitPixels, batches, default_workers
from edgevit.data.folders import ImageFolders, Split, fingerprint, load_image_folders
from edgevit.training.distribute import Placement, distribution_scope, parse_devices, place
from edgevit.errors import ModelError, UsageError
from edgevit.fsutil import BadJson, atomic_write_bytes, atomic_write_json, load_json
from edgevit.outputs import RUN, RUN_INDEX, Output, check_outputs
from edgevit.keras_backend import import_keras
from edgevit.manifest import SAVEDMODEL_KIND, io_spec, now_iso, tool_versions
from edgevit.models import (
    ClassifierConfig,
    build_classifier,
    load_pretrained_weights,
    pretrained_weights_path,
    resolve_trainable_blocks,
    resolve_variant,
)
from edgevit.training.frozen import (
    MAX_FEATURE_BYTES,
    compute_features,
    feature_batches,
    feature_shape,
    split_classifier,
    why_not_frozen_path,
)
from edgevit.training.precision import Precision, keep_float32_layers, parse_precision, precision_policy, wrap_optimizer
from edgevit.savedmodel.write import save_savedmodel
from edgevit.savedmodel.deferred import BEST_WEIGHTS, export_in_subprocess, write_pending_manifest

logger = logging.getLogger(__name__)

STATE_NAME = RUN_INDEX
LAST_WEIGHTS = "last.weights.h5"
LAST_EXTRA = "last.optimizer.npz"
# The frozen-backbone fast path checkpoints only what trains (the tail: last blocks, norm, head) each
# epoch, plus the whole classifier once as it started: its frozen part never changes, and writing the
# whole classifier twice per epoch was most of the epoch time of a frozen ViT-S. The whole classifier's
# best and last weights are written once when the session's epochs end.
START_WEIGHTS = "start.weights.h5"
TAIL_WEIGHTS = {"last": "last.tail.weights.h5", "best": "best.tail.weights.h5"}
# Options that say how a run executes, not what it learns: --resume may change them (a resumed run is
# bit-exact when they are unchanged). Every other TrainConfig field must match the interrupted run.
RUNTIME_OPTIONS = ("epochs", "backend", "devices", "data_workers", "jit_compile")


@dataclass(frozen=True)
class TrainResult:
    saved_model: Path | None  # None: trained on a backend without TensorFlow here; see savedmodel_step
    test_accuracy: float | None
    val_accuracy: float
    epochs_run: int
    best_epoch: int
    seconds: float


def learning_rate_at(epoch: int, config: TrainConfig, base_lr: float) -> float:
    """Step decay of the recipe: x factor every `lr_decay_every` epochs (epoch counts from 0)."""
    return float(base_lr * config.lr_decay_factor ** (epoch // config.lr_decay_every))


def _validate(config: TrainConfig) -> None:
    checks = [
        (config.epochs >= 1, f"--epochs must be at least 1, got {config.epochs}"),
        (config.batch_size >= 1, f"--batch-size must be at least 1, got {config.batch_size}"),
        (config.patience >= 1, f"--patience must be at least 1, got {config.patience}"),
        (config.lr_decay_every >= 1, f"--lr-decay-every must be at least 1, got {config.lr_decay_every}"),
        (0 < config.lr_decay_factor <= 1, f"--lr-decay-factor must be in (0, 1], got {config.lr_decay_factor}"),
        (config.noise_stddev >= 0, f"--noise must be >= 0, got {config.noise_stddev}"),
        (config.learning_rate is None or config.learning_rate > 0, f"--lr must be > 0, got {config.learning_rate}"),
        (config.data_workers is None or config.data_workers >= 1, f"--data-workers must be at least 1, got {config.data_workers}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    parse_precision(config.precision)
    parse_devices(config.devices)


def _make_batches(keras, split: Split, spec: Preprocessing, batch_size: int, options: FeedOptions, *, seed: int | None):
    """A function epoch -> keras PyDataset over one split; the order depends only on (seed, epoch).

    Each epoch gets its own dataset with its order fixed up front (seed None: file order), so a
    resumed run sees exactly the batches an uninterrupted one would, whatever keras prefetches.
    """
    show_progress = sys.stderr.isatty() and logger.isEnabledFor(logging.INFO)  # not under --quiet
    source = SplitPixels(split, spec, options, progress=show_progress)

    def for_epoch(epoch: int):
        order = epoch_order(len(split), seed=seed, epoch=epoch) if seed is not None else np.arange(len(split))
        return batches(keras, source, split.labels, order, batch_size, options)

    return for_epoch


def build_training_model(keras, model_config: ClassifierConfig, precision: Precision):
    """The classifier with `precision`'s dtype policy (float32 weights; the softmax head in float32)."""
    with precision_policy(keras, precision):
        model = build_classifier(model_config)
    if precision is not Precision.FP32:
        keep_float32_layers(model)
    return model


def compile_recipe(keras, model, *, learning_rate: float, precision: Precision, jit_compile: bool | None) -> None:
    """Adam, sparse cross-entropy averaged over the sample weights (padding weighs 0), accuracy."""
    model.compile(
        optimizer=wrap_optimizer(keras, keras.optimizers.Adam(learning_rate=learning_rate), precision),
        loss=keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight"),
        metrics=["accuracy"],
        jit_compile="auto" if jit_compile is None else jit_compile,
        # The optimizer is wrapped explicitly above (fp16 only); Keras must not wrap it a second time.
        auto_scale_loss=False,
    )


class RecipeCallback:
    """Early stopping on val accuracy with best-weights restore, plus a resumable checkpoint each epoch."""

    def __init__(self, keras, *, out: Path, config: TrainConfig, base_lr: float, state: dict, train_images: int,
                 tail=None):
        self.keras = keras
        # tail: on the frozen-backbone fast path, the trained model sharing the classifier's layers; its
        # weights are the epoch checkpoints (TAIL_WEIGHTS) and its optimizer state is the run's.
        self.tail = tail
        self.train_images = train_images
        self.out = out
        self.config = config
        self.base_lr = base_lr
        self.state = state

    def build(self):
        outer = self
        keras = self.keras

        class _Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.model.optimizer.learning_rate.assign(learning_rate_at(epoch, outer.config, outer.base_lr))
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                if logs is not None:
                    # Training throughput of this epoch (fit + validation wall clock), shown by the progress bar.
                    logs["images_per_s"] = outer.train_images / (time.perf_counter() - self._started)
                outer.epoch_end(self.model, epoch, logs or {})

        return _Callback()

    def progress_bar(self):
        """Keras' progress bar, but numbering epochs out of the run's total (fit runs one epoch per call)."""
        total = self.config.epochs

        class _Progress(self.keras.callbacks.ProgbarLogger):
            def set_params(self, params):
                super().set_params({**params, "epochs": total})

        return _Progress()

    def epoch_end(self, model, epoch: int, logs: dict) -> None:
        state = self.state
        ckpt = self.out / "checkpoints"
        ckpt.mkdir(parents=True, exist_ok=True)
        val_acc = float(logs.get("val_accuracy", 0.0))
        state["history"].append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}})
        weights = self.tail or model
        names = TAIL_WEIGHTS if self.tail is not None else {"last": LAST_WEIGHTS, "best": BEST_WEIGHTS}
        if state["best_val_accuracy"] is None or val_acc > state["best_val_accuracy"]:
            state.update(best_val_accuracy=val_acc, best_epoch=epoch + 1, wait=0)
            _save_weights_atomic(weights, ckpt / names["best"])
        else:
            state["wait"] += 1
        state["epochs_done"] = epoch + 1
        _save_weights_atomic(weights, ckpt / names["last"])
        _save_extra_state(model, ckpt / LAST_EXTRA)
        atomic_write_json(self.out / STATE_NAME, state)
        if state["wait"] >= self.config.patience:
            model.stop_training = True
            state["stopped_early"] = True
            atomic_write_json(self.out / STATE_NAME, state)


def _save_classifier_from_tail(model, tail, ckpt: Path) -> None:
    """The whole classifier's LAST_WEIGHTS and BEST_WEIGHTS from the start weights and the tail's checkpoints."""
    model.load_weights(str(ckpt / START_WEIGHTS))
    for kind, name in (("last", LAST_WEIGHTS), ("best", BEST_WEIGHTS)):
        tail.load_weights(str(ckpt / TAIL_WEIGHTS[kind]))  # into the classifier's own layers (shared)
        _save_weights_atomic(model, ckpt / name)


def _save_weights_atomic(model, path: Path) -> None:
    tmp = path.parent / f".{path.name}.tmp.weights.h5"
    model.save_weights(str(tmp))
    tmp.replace(path)


def _extra_variables(model) -> dict[str, object]:
    """Optimizer slots and the RNG states of noise/dropout layers: what a weights file does not hold."""
    extra = {f"optimizer/{i}": v for i, v in enumerate(model.optimizer.variables)}
    # Keyed by position: layer names get numbered suffixes that differ between processes.
    rng = [v for v in model.variables if "seed_generator_state" in v.path]
    extra.update({f"rng/{i}": v for i, v in enumerate(rng)})
    return extra


def _save_extra_state(model, path: Path) -> None:
    import io

    arrays = {k: np.asarray(v.numpy()) for k, v in _extra_variables(model).items()}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _load_extra_state(model, path: Path) -> None:
    try:
        # allow_pickle=False: a checkpoint is data; an object array in it would be code.
        with np.load(path, allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in saved.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{path}: not a plain array checkpoint ({reason}); start again without --resume") from None
    targets = _extra_variables(model)
    if set(arrays) != set(targets) or any(arrays[k].shape != tuple(v.shape) for k, v in targets.items()):
        raise ModelError(f"{path}: checkpoint does not match this model/optimizer; start again without --resume")
    for key, variable in targets.items():
        variable.assign(arrays[key])


def evaluate_accuracy(keras, model, split: Split, spec: Preprocessing, batch_size: int, *, workers: int) -> float:
    """Top-1 accuracy of `model` on `split` (inference mode: the input noise is off), decoded from the files."""
    options = FeedOptions(workers=workers, cache_bytes=0)
    data = batches(keras, SplitPixels(split, spec, options), split.labels, np.arange(len(split)), batch_size, options)
    probs = model.predict(data, verbose=0)
    return float((np.argmax(probs, axis=1) == split.labels).sum()) / max(1, len(split))


def _initial_state(out: Path, config: TrainConfig, resume: bool) -> dict:
    state_path = out / STATE_NAME
    if resume:
        if not state_path.is_file():
            raise UsageError(f"{out}: nothing to resume (no {STATE_NAME}); run without --resume")
        try:
            state = load_json(state_path)
        except (OSError, BadJson):
            raise UsageError(f"{state_path}: unreadable training state; start again without --resume in a new --out") from None
        # --epochs may grow on resume (train longer), and the runtime options may change; every other
        # option must match the interrupted run. Options newer than that run had their default then.
        recorded = {**TrainConfig().to_dict(), **state["config"]}
        changed = sorted(k for k, v in config.to_dict().items() if k not in RUNTIME_OPTIONS and recorded.get(k) != v)
        if changed:
            raise UsageError(f"{out}: --resume with different options ({', '.join(changed)}); use the original options")
        return state
    if state_path.exists():
        raise UsageError(f"{out}: a training run is already there; pass --resume to continue it or pick another --out")
    return {"config": config.to_dict(), "history": [], "best_val_accuracy": None, "best_epoch": 0, "wait": 0, "epochs_done": 0}


def train(data_root: Path | str, out: Path | str, config: TrainConfig, *, resume: bool = False, verbose: int | None = None) -> TrainResult:
    """Fine-tune on ROOT/{train,valid[,test]} and write OUT/saved_model with its manifest.

    On a backend other than TensorFlow the SavedModel is written by a TensorFlow subprocess when
    TensorFlow is installed here, else left to `edgevit savedmodel OUT` (TrainResult.saved_model None).
    """
    _validate(config)
    backend = activate_backend(config.backend)  # before Keras is imported
    precision = parse_precision(config.precision)
    spec_v = resolve_variant(config.variant)
    image_size = config.image_size or spec_v.default_image_size
    trainable_blocks = resolve_trainable_blocks(spec_v, config.trainable_blocks)
    data_root, out = Path(data_root), Path(out)
    # Before any data is read: OUT is new, empty or a training run, and holds none of the inputs.
    check_outputs([Output("--out", out, RUN, replace=False)], inputs=[data_root, config.weights])
    has_test = (data_root / "test").is_dir()
    folders: ImageFolders = load_image_folders(data_root, splits=("train", "valid", "test") if has_test else ("train", "valid"))
    state = _initial_state(out, config, resume)  # a mismatched --resume is told before a missing weights file
    weights_path = None
    if config.pretrained and (config.weights is not None or spec_v.pretrained_size is not None):
        weights_path = pretrained_weights_path(spec_v, config.weight_set, config.weights)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create output folder ({exc.strerror}); pick a writable --out") from None

    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    placement = place(backend, config.devices, batch_size=config.batch_size)
    workers = config.data_workers or default_workers()
    feed = FeedOptions(workers=workers, pad_to_multiple=placement.pad_to_multiple)
    preprocessing = Preprocessing(height=image_size, width=image_size)
    model_config = ClassifierConfig(
        variant=spec_v.name,
        image_size=image_size,
        num_classes=folders.num_classes,
        noise_stddev=config.noise_stddev,
        trainable_blocks=trainable_blocks,
        representation_size=spec_v.hidden_size if weights_path is not None and config.weight_set == "imagenet21k" else None,
    )
    base_lr = config.learning_rate or spec_v.default_learning_rate
    train_split, valid_split = folders.split("train"), folders.split("valid")
    train_batches = _make_batches(keras, train_split, preprocessing, config.batch_size, feed, seed=config.seed)
    valid_batches = _make_batches(keras, valid_split, preprocessing, config.batch_size, feed, seed=None)(0)
    slow_reason = why_not_frozen_path(noise_stddev=config.noise_stddev, spec=spec_v, trainable_blocks=trainable_blocks,
                                      devices=placement.count)
    if slow_reason is None:  # a ViT with frozen blocks (a zoo model trains every block: no features to size)
        per_image = int(np.prod(feature_shape(spec_v, image_size, trainable_blocks))) * 4
        if per_image * (len(train_split) + len(valid_split)) > MAX_FEATURE_BYTES:
            slow_reason = f"the frozen features would take {per_image * (len(train_split) + len(valid_split)) / 1e9:.1f} GB"
    device = device_description(backend)
    if verbose is None:  # Keras' epoch lines are progress too: none under --quiet
        verbose = 0 if not logger.isEnabledFor(logging.INFO) else 1 if sys.stdout.isatty() else 2
    replicas = f", data parallel over {placement.count} devices" if placement.count > 1 else ""
    logger.debug(f"training options: {config.to_dict()}")
    logger.info(
        f"training {spec_v.name} at {image_size}px on {device} ({precision.value}{replicas}): {len(train_split)} train / "
        f"{len(valid_split)} valid images, {folders.num_classes} classes, {trainable_blocks}/{spec_v.num_layers} blocks trainable"
    )
    started = time.perf_counter()
    frozen_record = {"used": slow_reason is None, "why_not": slow_reason}
    with distribution_scope(keras, placement):
        model = build_training_model(keras, model_config, precision)
        trained = model
        if slow_reason is None:
            extractor, trained = split_classifier(keras, model, spec_v, trainable_blocks)
        compile_recipe(keras, trained, learning_rate=base_lr, precision=precision, jit_compile=config.jit_compile)
        ckpt = out / "checkpoints"
        if resume:
            trained.optimizer.build(trained.trainable_variables)  # so the weights file's optimizer slots load too
            state.setdefault("checkpoint", "classifier")  # runs from before the tail checkpoints
            if state["checkpoint"] == "tail":
                # Written by a fast-path session: the start weights plus the tail's last epoch.
                if trained is model:  # this session runs the normal path: back to whole-classifier checkpoints
                    _save_classifier_from_tail(model, split_classifier(keras, model, spec_v, trainable_blocks)[1], ckpt)
                    state["checkpoint"] = "classifier"
                else:
                    model.load_weights(str(ckpt / START_WEIGHTS))
                    trained.load_weights(str(ckpt / TAIL_WEIGHTS["last"]))
            if state["checkpoint"] == "classifier":
                model.load_weights(str(ckpt / LAST_WEIGHTS))
            _load_extra_state(trained, ckpt / LAST_EXTRA)
        elif weights_path is not None:
            load_pretrained_weights(model, model_config, weights_path)
        if not resume:
            state["checkpoint"] = "tail" if trained is not model else "classifier"
            if trained is not model:
                ckpt.mkdir(parents=True, exist_ok=True)
                _save_weights_atomic(model, ckpt / START_WEIGHTS)
        if slow_reason is None:
            feature_started = time.perf_counter()
            train_x = compute_features(keras, extractor, train_split, preprocessing, config.batch_size, feed)
            valid_x = compute_features(keras, extractor, valid_split, preprocessing, config.batch_size, feed)
            frozen_record.update(seconds=round(time.perf_counter() - feature_started, 1), feature_shape=list(train_x.shape[1:]),
                                 images=len(train_x) + len(valid_x))
            logger.info(f"frozen part computed once for {frozen_record['images']} images in {frozen_record['seconds']} s "
                        f"(features {tuple(train_x.shape[1:])}); training the last {trainable_blocks} blocks, the norm and the head")
            train_batches = lambda epoch: feature_batches(  # noqa: E731
                keras, train_x, train_split.labels, epoch_order(len(train_split), seed=config.seed, epoch=epoch), config.batch_size)
            valid_batches = feature_batches(keras, valid_x, valid_split.labels, np.arange(len(valid_split)), config.batch_size)
        else:
            logger.info(f"frozen-backbone fast path off: {slow_reason}")
        tail_checkpoints = state["checkpoint"] == "tail"  # a fast-path session resuming a normal-path run keeps its form
        recipe = RecipeCallback(keras, out=out, config=config, base_lr=base_lr, state=state, train_images=len(train_split),
                                tail=trained if tail_checkpoints else None)
        callbacks = [recipe.build(), recipe.progress_bar()]
        _fit_epochs(trained, train_batches, valid_batches, callbacks, state=state, epochs=config.epochs, verbose=verbose)
        if tail_checkpoints:
            _save_classifier_from_tail(model, trained, ckpt)
    seconds = time.perf_counter() - started
    # Restore the best epoch's weights (EarlyStopping's restore_best_weights, resumable) into a fresh,
    # uncompiled float32 model on one device: the SavedModel must not carry the optimizer's slots
    # (3x the size with Adam), and it serves in float32 whatever precision trained it.
    model = build_classifier(model_config)
    model.load_weights(str(out / "checkpoints" / BEST_WEIGHTS))
    val_acc = float(state["best_val_accuracy"])
    test_acc = None
    if has_test:
        test_acc = evaluate_accuracy(keras, model, folders.split("test"), preprocessing, config.batch_size, workers=workers)

    input_spec, output_spec = io_spec(preprocessing, folders.num_classes)
    manifest = {
        "schema_version": 1,
        "kind": SAVEDMODEL_KIND,
        "created": now_iso(),
        "model": model_config.to_dict(),
        "input": input_spec,
        "output": output_spec,
        "preprocessing": preprocessing.to_dict(),
        "labels": list(folders.class_names),
        "dataset": {"root": str(data_root.resolve()), "fingerprint": fingerprint(folders), "counts": folders.counts()},
        "training": {
            **config.to_dict(),
            "image_size": image_size,
            "trainable_blocks": trainable_blocks,
            "learning_rate": base_lr,
            "pretrained_weights": str(weights_path) if weights_path else None,
            "epochs_run": state["epochs_done"],
            "best_epoch": state["best_epoch"],
            "stopped_early": bool(state.get("stopped_early", False)),
            "device": device,
            **_runtime_record(backend, placement, workers),
            "seconds_this_session": round(seconds, 1),
            "frozen_features": frozen_record,
        },
        "metrics": {"val_accuracy": val_acc, "test_accuracy": test_acc, "test_images": len(folders.splits["test"]) if has_test else 0},
        "tool_versions": tool_versions(),
    }
    atomic_write_json(out / "history.json", {"history": state["history"]})
    saved = _write_savedmodel(model, out, manifest, backend)
    return TrainResult(saved, test_acc, val_acc, state["epochs_done"], state["best_epoch"], seconds)


def _fit_epochs(model, train_batches, valid_batches, callbacks, *, state: dict, epochs: int, verbose: int) -> None:
    """One fit() call per epoch, each on that epoch's fixed order (see _make_batches), until done or stopped."""
    finished_early = state.get("stopped_early", False)
    for epoch in range(state["epochs_done"], epochs):
        if finished_early or model.stop_training:
            break
        model.fit(
            train_batches(epoch),
            validation_data=valid_batches,
            initial_epoch=epoch,
            epochs=epoch + 1,
            callbacks=callbacks,
            # Our own (seed, epoch) order only: keras would otherwise shuffle the batches with the
            # global numpy RNG, whose state a resumed process cannot know.
            shuffle=False,
            verbose=verbose,
        )
        finished_early = bool(state.get("stopped_early", False))


def _runtime_record(backend: Backend, placement: Placement, workers: int) -> dict:
    """How this session ran, for the manifest (the requested options are in the config part)."""
    return {
        "backend": backend.value,
        "backend_versions": backend_versions(backend),
        "devices_used": list(placement.devices),
        "data_workers_used": workers,
    }


def _write_savedmodel(model, out: Path, manifest: dict, backend: Backend) -> Path | None:
    """TensorFlow writes the SavedModel here; another backend hands it to TensorFlow (a subprocess or a later step)."""
    if backend is Backend.TENSORFLOW:
        return save_savedmodel(model, out / "saved_model", manifest)
    pending = write_pending_manifest(out, manifest)
    if is_installed(Backend.TENSORFLOW):
        return export_in_subprocess(out)
    logger.info(
        f"no TensorFlow here: the SavedModel is not written yet. The best weights are in {out / 'checkpoints' / BEST_WEIGHTS} "
        f"and its manifest in {pending}; on a machine with TensorFlow run: edgevit savedmodel {out}"
    )
    return None
