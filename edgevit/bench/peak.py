"""This machine's matrix-multiply limit, measured in the same run as the artifacts it bounds.

A square n x n x n GEMM is 2 n^3 operations. float32 is measured through numpy (BLAS) and ONNX
Runtime's MatMul, int8 through ONNX Runtime's MatMulInteger (uint8 activations x int8 weights, int32
accumulators: what dynamic-range quantized models run). Each result is a `peak` record for one dtype,
backend and thread count; `best_peaks` picks the fastest backend per dtype, which is the limit an
artifact is held against.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from edgevit.formats import Runtime
from edgevit.portable.timing import percentile, time_calls
from edgevit.records import STATUS_FAILED, STATUS_OK

DEFAULT_N = 1024  # 2 GFLOP per call: long enough to time, short enough to catch a quiet moment


def _gflops(n: int, ms: float) -> float:
    return 2 * n**3 / (ms / 1e3) / 1e9


def _numpy_float32(n: int, threads: int) -> tuple[Callable[[], object], Callable[[], None], str]:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    limiter = threadpool_limits(limits=threads, user_api="blas")  # released by the returned close()
    return (lambda: np.matmul(a, b, out=out)), limiter.restore_original_limits, "matmul"


def _ort_session(graph_nodes, inputs, outputs, threads: int):
    import onnx
    import onnxruntime as ort
    from onnx import helper

    graph = helper.make_graph(graph_nodes, "gemm_peak", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime we pin
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _ort_float32(n: int, threads: int):
    from onnx import TensorProto, helper

    session = _ort_session(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]), helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])], threads)
    rng = np.random.default_rng(0)
    feeds = {"a": rng.standard_normal((n, n), dtype=np.float32), "b": rng.standard_normal((n, n), dtype=np.float32)}
    return (lambda: session.run(None, feeds)), (lambda: None), "MatMul"


def _ort_int8(n: int, threads: int):
    from onnx import TensorProto, helper

    session = _ort_session(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])],
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n]), helper.make_tensor_value_info("b", TensorProto.INT8, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])], threads)
    rng = np.random.default_rng(0)
    feeds = {"a": rng.integers(0, 256, (n, n), dtype=np.uint8), "b": rng.integers(-128, 128, (n, n), dtype=np.int8)}
    return (lambda: session.run(None, feeds)), (lambda: None), "MatMulInteger"


# (dtype, backend) -> builder(n, threads) -> (call, close, op name)
BACKENDS: dict[tuple[str, str], Callable] = {
    ("float32", "numpy"): _numpy_float32,
    ("float32", Runtime.ONNXRUNTIME.value): _ort_float32,
    ("int8", Runtime.ONNXRUNTIME.value): _ort_int8,
}


def measure_peak(dtype: str, backend: str, *, threads: int, n: int = DEFAULT_N, warmup: int = 2, runs: int = 5) -> dict:
    """{"status", "reason", "peak": {...}} for one GEMM; a failure is a status, not an exception."""
    key = (dtype, backend)
    if key not in BACKENDS:
        known = ", ".join(f"{d}/{b}" for d, b in BACKENDS)
        raise ValueError(f"unknown GEMM backend {dtype}/{backend}; known: {known}")
    try:
        call, close, op = BACKENDS[key](n, threads)
        try:
            samples = time_calls(call, warmup=warmup, runs=runs)
        finally:
            close()
    except Exception as exc:  # a backend that cannot run here is a record, not a crash
        return {"status": STATUS_FAILED, "reason": f"{backend} {dtype} GEMM failed: {type(exc).__name__}: {exc}".splitlines()[0], "peak": None}
    return {
        "status": STATUS_OK,
        "reason": None,
        "peak": {"dtype": dtype, "backend": backend, "op": op, "n": n, "threads": threads, "warmup": warmup, "runs": runs,
                 "gflops": _gflops(n, min(samples)), "median_gflops": _gflops(n, percentile(samples, 50))},
    }


def best_peaks(peak_records: list[dict]) -> dict[tuple[str, int | None], float]:
    """(dtype, threads) -> the best GFLOP/s over backends, from ok `peak` records."""
    best: dict[tuple[str, int | None], float] = {}
    for record in peak_records:
        if record.get("kind") == "peak" and record.get("status") == STATUS_OK:
            peak = record["peak"]
            key = (peak["dtype"], peak["threads"])
            best[key] = max(best.get(key, 0.0), peak["gflops"])
    return best
