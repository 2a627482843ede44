"""The parts behind `edgevit train --backend/--precision/--devices/--data-workers`, in this (TensorFlow) process."""

from __future__ import annotations


import numpy as np
import pytest

from edgevit.keras_backend import Backend, activate_backend, default_backend, is_installed, parse_backend
from edgevit.config import VARIANTS, Preprocessing, ViTSpec
from edgevit.data.batches import load_pixels
from edgevit.data.feed import FeedOptions, SplitPixels, batches, decode_split, padded
from edgevit.data.folders import load_image_folders
from edgevit.data.synth import write_synthetic_birds
from edgevit.training.distribute import parse_devices, place
from edgevit.errors import UsageError
from edgevit.model_cost import vit_cost
from edgevit.keras_backend import import_keras
from edgevit.training.mfu import measure_matmul_peak, mfu, training_flops_per_image
from edgevit.models import ClassifierConfig
from edgevit.training.precision import Precision, parse_precision, precision_policy
from edgevit.training.train import build_training_model, compile_recipe

TINY = ClassifierConfig(variant="tiny", image_size=32, num_classes=3, noise_stddev=0.0, trainable_blocks=4)


# --- backends ---------------------------------------------------------------------------------

def test_default_backend_prefers_tensorflow_when_installed():
    assert is_installed(Backend.TENSORFLOW)
    assert default_backend() is Backend.TENSORFLOW and parse_backend(None) is Backend.TENSORFLOW


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(UsageError, match="unknown backend 'mxnet'; known backends: tensorflow, jax, torch"):
        parse_backend("mxnet")


def test_switching_backend_after_keras_was_imported_is_refused():
    import_keras()  # this process runs Keras on TensorFlow
    assert activate_backend("tensorflow") is Backend.TENSORFLOW  # the same backend again is fine
    if is_installed(Backend.JAX):
        with pytest.raises(UsageError, match="already running on the tensorflow backend.*KERAS_BACKEND=jax"):
            activate_backend("jax")


# --- precision --------------------------------------------------------------------------------

def test_precision_names():
    assert parse_precision("bf16") is Precision.BF16
    with pytest.raises(UsageError, match="unknown precision 'int8'; known: fp32, bf16, fp16"):
        parse_precision("int8")


def test_bfloat16_model_computes_in_bfloat16_with_float32_weights_and_head():
    keras = import_keras()
    model = build_training_model(keras, TINY, Precision.BF16)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored after the build
    assert {w.dtype for w in model.weights} == {"float32"}
    dense = model.get_layer("tiny").get_layer("Transformer_encoderblock_0").att.query_dense
    assert dense.compute_dtype == "bfloat16"
    out = model(np.zeros((2, 32, 32, 3), np.float32))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"  # softmax head in float32
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, atol=1e-6)


def test_float16_uses_dynamic_loss_scaling_and_still_learns():
    keras = import_keras()
    keras.utils.set_random_seed(1)
    model = build_training_model(keras, TINY, Precision.FP16)
    compile_recipe(keras, model, learning_rate=1e-3, precision=Precision.FP16, jit_compile=None)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
    y = np.arange(8) % 3
    first = float(model.train_on_batch(x, y, return_dict=True)["loss"])
    # A scale too large for float16 makes the gradients overflow: the step is skipped and the scale halved.
    model.optimizer.dynamic_scale.assign(2.0**40)
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    assert float(model.optimizer.dynamic_scale) == 2.0**39
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.optimizer.dynamic_scale.assign(2.0**15)
    losses = [float(model.train_on_batch(x, y, return_dict=True)["loss"]) for _ in range(6)]
    assert all(np.isfinite(losses)) and losses[-1] < first / 2, (first, losses)


def test_float32_and_bfloat16_optimizers_are_not_wrapped():
    keras = import_keras()
    for precision in (Precision.FP32, Precision.BF16):
        model = build_training_model(keras, TINY, precision)
        compile_recipe(keras, model, learning_rate=1e-3, precision=precision, jit_compile=False)
        assert isinstance(model.optimizer, keras.optimizers.Adam)


def test_precision_policy_restores_after_an_error():
    keras = import_keras()
    with pytest.raises(RuntimeError):
        with precision_policy(keras, Precision.FP16):
            assert keras.config.dtype_policy().name == "mixed_float16"
            raise RuntimeError
    assert keras.config.dtype_policy().name == "float32"


# --- devices ----------------------------------------------------------------------------------

def test_device_counts():
    assert parse_devices("all") == "all" and parse_devices("2") == 2
    for bad in ("0", "two"):
        with pytest.raises(UsageError, match="--devices"):
            parse_devices(bad)


def test_placement_refuses_what_the_machine_lacks():
    placement = place(Backend.TENSORFLOW, 1, batch_size=7)
    assert placement.count == 1 and placement.pad_to_multiple == 1
    with pytest.raises(UsageError, match=r"--devices 64: the tensorflow backend sees 1"):
        place(Backend.TENSORFLOW, 64, batch_size=64)


# --- the training feed ------------------------------------------------------------------------

def test_padding_repeats_the_start_with_zero_weight():
    indices, weights = padded(np.array([7, 3, 9]), 4)
    assert indices.tolist() == [7, 3, 9, 7] and weights.tolist() == [1, 1, 1, 0]
    indices, weights = padded(np.array([1, 2]), 2)
    assert indices.tolist() == [1, 2] and weights.tolist() == [1, 1]
    indices, weights = padded(np.array([5]), 4)
    assert indices.tolist() == [5, 5, 5, 5] and weights.tolist() == [1, 0, 0, 0]


@pytest.fixture(scope="module")
def birds(tmp_path_factory):
    root = tmp_path_factory.mktemp("feed") / "data"
    write_synthetic_birds(root, num_classes=3, per_class=14, eval_per_class=5, image_size=24, seed=2)
    return load_image_folders(root).split("train")


def test_parallel_decode_equals_serial_decode(birds):
    spec = Preprocessing(height=16, width=16)
    np.testing.assert_array_equal(decode_split(birds, spec, workers=3), load_pixels(birds, spec))


def test_batches_do_not_depend_on_workers_or_caching(birds):
    keras = import_keras()
    spec = Preprocessing(height=16, width=16)
    order = np.random.default_rng(4).permutation(len(birds))

    def all_batches(options):
        data = batches(keras, SplitPixels(birds, spec, options), birds.labels, order, 8, options)
        return [data[i] for i in range(len(data))]

    reference = all_batches(FeedOptions(workers=1))
    assert len(reference) == 6 and len(reference[-1][0]) == 42 - 5 * 8
    for options in (FeedOptions(workers=3), FeedOptions(workers=2, cache_bytes=0)):
        for (x, y), (x_ref, y_ref) in zip(all_batches(options), reference):
            np.testing.assert_array_equal(x, x_ref)
            np.testing.assert_array_equal(y, y_ref)
    padded_batches = all_batches(FeedOptions(workers=2, pad_to_multiple=4))
    x, y, w = padded_batches[-1]
    assert len(x) == 4 and w.tolist() == [1, 1, 0, 0]
    np.testing.assert_array_equal(x[:2], reference[-1][0])


def test_keras_iterates_the_feed_in_order_with_worker_threads(birds):
    """Keras' queue (workers > 1) must hand out batches in index order: a resumed run depends on it."""
    from keras.src.trainers.data_adapters import get_data_adapter

    keras = import_keras()
    spec = Preprocessing(height=16, width=16)
    order = np.random.default_rng(5).permutation(len(birds))
    data = batches(keras, SplitPixels(birds, spec, FeedOptions(workers=4)), np.arange(len(birds)), order, 4, FeedOptions(workers=4, prefetch=3))
    seen = np.concatenate([np.asarray(y) for _, y in get_data_adapter(data, shuffle=False).get_tf_dataset()])
    np.testing.assert_array_equal(seen, order)


def test_pixels_from_an_array_must_fit_the_spec():
    spec = Preprocessing(height=4, width=4)
    assert len(SplitPixels.from_array(np.zeros((3, 4, 4, 3), np.uint8), spec)) == 3
    with pytest.raises(ValueError, match=r"expected uint8 \(N, 4, 4, 3\)"):
        SplitPixels.from_array(np.zeros((3, 4, 4, 3), np.float32), spec)


# --- MFU --------------------------------------------------------------------------------------

def test_training_flops_are_three_forwards_when_everything_trains():
    spec = VARIANTS["vit-l32"]
    forward = vit_cost(spec, image_size=224, num_classes=250).flops
    assert round(forward / 2e9, 1) == 15.4  # GMACs
    assert training_flops_per_image(spec, image_size=224, num_classes=250, trainable_blocks=24) == 3 * forward


def test_training_flops_of_a_partly_frozen_model_count_the_backward_of_what_trains():
    # 2 layers, hidden 4, MLP 8, patch 2 on a 4x4 image: 5 tokens. Head: 4 -> 3 classes.
    spec = ViTSpec("t", 2, 2, 4, 1, 8, 0.0, 4, None, 1e-3, None)
    block_macs = 4 * 5 * 4 * 4 + 2 * 5 * 5 * 4 + 2 * 5 * 4 * 8
    embed_macs, head_macs = 4 * (2 * 2 * 3) * 4, 4 * 3
    forward = 2 * (embed_macs + 2 * block_macs + head_macs)
    assert vit_cost(spec, image_size=4, num_classes=3).flops == forward
    assert training_flops_per_image(spec, image_size=4, num_classes=3, trainable_blocks=1) == forward + 2 * 2 * (block_macs + head_macs)
    assert training_flops_per_image(spec, image_size=4, num_classes=3, trainable_blocks=0) == forward + 2 * 2 * head_macs


def test_mfu_is_achieved_over_peak():
    assert mfu(flops_per_image=92e9, images_per_s=3000, peak_flops=800e12) == pytest.approx(0.345)


def test_matmul_peak_is_measured_on_this_backend():
    peak = measure_matmul_peak(Backend.TENSORFLOW, dtype="float32", n=256, calls=4, samples=3, warmup=1)
    assert peak["flops_best"] >= peak["flops_median"] > 1e8  # any CPU of this decade does 0.1 GFLOP/s
    assert peak["n"] == 256 and peak["dtype"] == "float32"
