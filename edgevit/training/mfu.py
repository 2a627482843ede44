"""Model FLOPs utilisation of training: FLOPs the model needs per image, and the accelerator's measured peak.

MFU = (training FLOPs per image x images/s) / peak FLOP/s. The FLOPs are the model's (counted from
its config by edgevit.model_cost, matrix multiplies only), not what the hardware executes, so
recomputation or padding never inflates it. The peak is measured in the same run: a large square
matrix product in the compute dtype (bf16 for mixed-precision training) through the same backend,
the best of several timed samples.

Training FLOPs: the forward pass, plus for each layer that trains a backward pass of twice its
forward (gradients for its input and for its weights): 3x the forward when everything trains, the
usual convention. Frozen layers in front of the first trainable one need no backward at all.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from edgevit.keras_backend import Backend
from edgevit.config import ViTSpec
from edgevit.model_cost import vit_cost


def training_flops_per_image(spec: ViTSpec, *, image_size: int, num_classes: int, trainable_blocks: int) -> int:
    """Forward + backward FLOPs of one image with the last `trainable_blocks` blocks (and the head) training."""
    forward = vit_cost(spec, image_size=image_size, num_classes=num_classes).flops
    if trainable_blocks >= spec.num_layers:
        return 3 * forward
    no_blocks = replace(spec, num_layers=0)
    one_block = replace(spec, num_layers=1)
    block = vit_cost(one_block, image_size=image_size, num_classes=num_classes).flops - vit_cost(no_blocks, image_size=image_size, num_classes=num_classes).flops
    head = vit_cost(no_blocks, image_size=image_size, num_classes=num_classes).flops - vit_cost(no_blocks, image_size=image_size, num_classes=0).flops
    return forward + 2 * (trainable_blocks * block + head)


def mfu(*, flops_per_image: int, images_per_s: float, peak_flops: float) -> float:
    return flops_per_image * images_per_s / peak_flops


def _matmul_jax(n: int, dtype: str):
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), dtype=dtype)
    b = jax.random.normal(jax.random.key(1), (n, n), dtype=dtype)
    matmul = jax.jit(jnp.matmul)
    return (lambda: matmul(a, b)), (lambda out: out.block_until_ready())


def _matmul_torch(n: int, dtype: str):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn((n, n), generator=generator, device=device, dtype=getattr(torch, dtype))
    b = torch.randn((n, n), generator=generator, device=device, dtype=getattr(torch, dtype))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    return (lambda: torch.matmul(a, b)), (lambda out: sync())


def _matmul_tensorflow(n: int, dtype: str):
    from edgevit.keras_backend import import_tf

    tf = import_tf()
    a = tf.random.stateless_normal((n, n), seed=(0, 0), dtype=dtype)
    b = tf.random.stateless_normal((n, n), seed=(0, 1), dtype=dtype)
    return (lambda: tf.matmul(a, b)), (lambda out: tf.test.experimental.sync_devices())


_MATMULS = {Backend.JAX: _matmul_jax, Backend.TORCH: _matmul_torch, Backend.TENSORFLOW: _matmul_tensorflow}


def measure_matmul_peak(backend: Backend, *, dtype: str = "bfloat16", n: int = 8192, calls: int = 10, samples: int = 5, warmup: int = 3) -> dict:
    """FLOP/s of an n x n x n matrix product on the backend's default device (random normal inputs).

    Each sample times `calls` products dispatched back to back and waits once for the last, so
    the launch overhead is hidden as it is in training. Returns the best and median sample.
    """
    call, wait = _MATMULS[backend](n, dtype)
    for _ in range(warmup):
        wait(call())
    rates = []
    for _ in range(samples):
        started = time.perf_counter()
        for _ in range(calls):
            out = call()
        wait(out)
        seconds = time.perf_counter() - started
        rates.append(2 * n**3 * calls / seconds)
    return {"dtype": dtype, "n": n, "calls_per_sample": calls, "samples": samples, "warmup": warmup,
            "flops_best": max(rates), "flops_median": statistics.median(rates)}
