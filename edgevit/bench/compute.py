"""Achieved GFLOP/s of an artifact, held against the machine's GEMM peak for the dtype it computes in."""

from __future__ import annotations

from edgevit.artifact import Artifact
from edgevit.formats import matmul_dtype
from edgevit.records import STATUS_OK

def peak_dtype(target: Artifact) -> str:
    """The GEMM peak an artifact is held against: the dtype its matrix multiplies run in (edgevit.formats)."""
    return matmul_dtype(target.format, target.quantization)


def compute_block(model: dict | None, result: dict, *, dtype: str, peaks: dict, threads: int | None) -> dict | None:
    """Achieved GFLOP/s at batch-1 p50 against the measured GEMM peak of the same thread count."""
    if not model or not model.get("flops_per_image") or result["status"] != STATUS_OK or result["latency"] is None:
        return None
    peak, fp32 = peaks.get((dtype, threads)), peaks.get(("float32", threads))
    if not peak:
        return None
    flops = int(model["flops_per_image"])
    achieved = flops / (result["latency"]["p50_ms"] / 1e3) / 1e9
    batched = [t for t in result["throughput"] if t.get("status", STATUS_OK) == STATUS_OK and t["batch"] > 1]
    return {
        "flops_per_image": flops,
        "achieved_gflops": achieved,
        "achieved_gflops_batched": flops * max(t["images_per_second"] for t in batched) / 1e9 if batched else None,
        "peak_dtype": dtype,
        "peak_gflops": peak,
        "fraction_of_peak": achieved / peak,
        "float32_peak_gflops": fp32,
        "fraction_of_float32_peak": achieved / fp32 if fp32 else None,
    }
