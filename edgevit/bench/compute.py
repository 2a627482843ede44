"""Achieved GFLOP/s of an artifact, held against the machine's GEMM peak for the dtype it computes in, and a
roofline: at batch 1 every weight is read once per image, so the time cannot be under
max(FLOPs / GEMM peak, weight bytes / memory bandwidth); the larger term says which bound the artifact is at.
The weight bytes are the artifact's file size (weights dominate every format edgevit writes)."""

from __future__ import annotations

from edgevit.artifact import Artifact
from edgevit.formats import matmul_dtype
from edgevit.records import STATUS_OK

def peak_dtype(target: Artifact) -> str:
    """The GEMM peak an artifact is held against: the dtype its matrix multiplies run in (edgevit.formats)."""
    return matmul_dtype(target.format, target.quantization)


def compute_block(model: dict | None, result: dict, *, dtype: str, peaks: dict, threads: int | None,
                  bandwidths: dict | None = None, weight_bytes: int | None = None) -> dict | None:
    """Achieved GFLOP/s at batch-1 p50 against the measured (median) GEMM peak of the same thread count, and the roofline."""
    if not model or not model.get("flops_per_image") or result["status"] != STATUS_OK or result["latency"] is None:
        return None
    peak, fp32 = peaks.get((dtype, threads)), peaks.get(("float32", threads))
    if not peak:
        return None
    flops = int(model["flops_per_image"])
    achieved = flops / (result["latency"]["p50_ms"] / 1e3) / 1e9
    batched = [t for t in result["throughput"] if t.get("status", STATUS_OK) == STATUS_OK and t["batch"] > 1]
    p50_ms = result["latency"]["p50_ms"]
    compute_floor_ms = flops / (peak * 1e9) * 1e3
    bandwidth = (bandwidths or {}).get(threads)
    memory_floor_ms = weight_bytes / (bandwidth * 1e9) * 1e3 if bandwidth and weight_bytes else None
    floor_ms = max(compute_floor_ms, memory_floor_ms or 0.0)
    return {
        "flops_per_image": flops,
        "bytes_per_image": weight_bytes,
        "bandwidth_gbps": bandwidth,
        "compute_floor_ms": compute_floor_ms,
        "memory_floor_ms": memory_floor_ms,
        "bound": "memory" if memory_floor_ms and memory_floor_ms > compute_floor_ms else "compute",
        "fraction_of_roofline": floor_ms / p50_ms if p50_ms > 0 else None,
        "achieved_gflops": achieved,
        "achieved_gflops_batched": flops * max(t["images_per_second"] for t in batched) / 1e9 if batched else None,
        "peak_dtype": dtype,
        "peak_gflops": peak,
        "fraction_of_peak": achieved / peak,
        "float32_peak_gflops": fp32,
        "fraction_of_float32_peak": achieved / fp32 if fp32 else None,
    }
