"""This machine's matrix-multiply limit, measured in the same run as the artifacts it bounds.

A square n x n x n GEMM is 2 n^3 operations. float32 is measured through numpy (BLAS), ONNX
Runtime's MatMul and LiteRT's FULLY_CONNECTED on XNNPACK; int8 through ONNX Runtime's MatMulInteger (uint8
activations x int8 weights, int32 accumulators) and LiteRT's dynamic-range FULLY_CONNECTED on XNNPACK (int8
weights, activations quantized per call): the kernels dynamic-range quantized models run in each runtime. Each result is a `peak` record for one dtype,
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


def ort_model(graph_nodes, inputs, outputs, initializers=()):
    """A checked one-graph ONNX model (opset 13, IR 8: readable by every onnxruntime we pin)."""
    import onnx
    from onnx import helper

    graph = helper.make_graph(graph_nodes, "gemm_peak", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def ort_cpu_session(model: bytes | str, threads: int):
    """An ONNX Runtime CPU session of a serialized model (or a model file's path) on `threads` intra-op threads, one
    inter-op thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _ort_session(graph_nodes, inputs, outputs, threads: int):
    return ort_cpu_session(ort_model(graph_nodes, inputs, outputs).SerializeToString(), threads)


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


def litert_fully_connected(rows: int, depth: int, width: int, *, int8: bool) -> bytes:
    """A one-op TFLite model, FULLY_CONNECTED: a (rows x depth) input times constant (width x depth) weights, written
    with LiteRT's own flatbuffer schema: no TensorFlow import for a peak. int8: per-channel int8 weights with float
    input and output, the dynamic-range ("hybrid") kernel that tflite-dynamic artifacts run, which XNNPACK takes over."""
    return litert_dense_chain(rows, [depth, width], int8=int8)


def litert_dense_chain(rows: int, widths: list[int], *, int8: bool) -> bytes:
    """FULLY_CONNECTED ops in a chain, each with its own constant weights: a (rows x widths[0]) input through
    widths[0] -> widths[1] -> ... (see litert_fully_connected). A chain as long as a model's dense layers reads every
    weight from memory once per call, as the model does; one op called again keeps its weights in cache."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    if len(widths) < 2:
        raise ValueError(f"a chain needs an input width and at least one layer, got {widths}")
    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    model.operatorCodes = [code]
    rng = np.random.default_rng(0)
    float32 = schema.TensorType.FLOAT32

    def tensor(name, tensor_shape, dtype, buffer, quantization=None):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(tensor_shape), dtype, buffer
        if quantization is not None:
            t.quantization = quantization
        return t

    model.buffers = [schema.BufferT(), schema.BufferT()]  # 0: the empty buffer; 1: the input's
    graph = schema.SubGraphT()
    graph.tensors, graph.operators = [tensor("x", (rows, widths[0]), float32, 1)], []
    for index, (depth, width) in enumerate(zip(widths, widths[1:])):
        shape = (width, depth)
        weights = rng.integers(-127, 128, shape, dtype=np.int8) if int8 else rng.standard_normal(shape, dtype=np.float32)
        weight_buffer = schema.BufferT()
        weight_buffer.data = np.frombuffer(weights.tobytes(), np.uint8)
        model.buffers += [weight_buffer, schema.BufferT()]
        quantization = None
        if int8:
            quantization = schema.QuantizationParametersT()
            quantization.scale, quantization.zeroPoint, quantization.quantizedDimension = [0.01] * width, [0] * width, 0
        source = len(graph.tensors) - 1
        graph.tensors += [tensor(f"w{index}", shape, schema.TensorType.INT8 if int8 else float32, len(model.buffers) - 2,
                                 quantization),
                          tensor(f"y{index}", (rows, width), float32, len(model.buffers) - 1)]
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [source, source + 1, -1], [source + 2]
        op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.FullyConnectedOptions, schema.FullyConnectedOptionsT()
        graph.operators.append(op)
    graph.inputs, graph.outputs, graph.name = [0], [len(graph.tensors) - 1], "gemm_peak"
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def litert_invoker(model: bytes, input_shape: tuple[int, ...], threads: int):
    """An XNNPACK interpreter of `model` with a random input set: its invoke, to time."""
    from ai_edge_litert import interpreter as litert

    from edgevit.console import native_noise_filtered

    with native_noise_filtered():  # the XNNPACK banner on stderr
        interpreter = litert.Interpreter(model_content=model, num_threads=threads,
                                         experimental_op_resolver_type=litert.OpResolverType.AUTO)
        interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                           np.random.default_rng(1).standard_normal(input_shape, dtype=np.float32))
    return interpreter.invoke


def _litert(n: int, threads: int, *, int8: bool):
    op = "FULLY_CONNECTED int8 weights (XNNPACK)" if int8 else "FULLY_CONNECTED (XNNPACK)"
    return litert_invoker(litert_fully_connected(n, n, n, int8=int8), (n, n), threads), (lambda: None), op


def _litert_float32(n: int, threads: int):
    return _litert(n, threads, int8=False)


def _litert_int8(n: int, threads: int):
    return _litert(n, threads, int8=True)


# (dtype, backend) -> builder(n, threads) -> (call, close, op name). Each runtime's own kernel: an artifact's
# runtime is held against the best of them, and the table shows each.
BACKENDS: dict[tuple[str, str], Callable] = {
    ("float32", "numpy"): _numpy_float32,
    ("float32", Runtime.ONNXRUNTIME.value): _ort_float32,
    ("int8", Runtime.ONNXRUNTIME.value): _ort_int8,
    ("float32", Runtime.LITERT.value): _litert_float32,
    ("int8", Runtime.LITERT.value): _litert_int8,
}


def scaled_n(n: int, threads: int | None) -> int:
    """The GEMM size at `threads`: n x cbrt(threads), a multiple of 64, so each thread gets as much work as
    one thread gets at n (a fixed n starves the threads and its peak falls as threads rise)."""
    return max(64, int(round(n * (threads or 1) ** (1 / 3) / 64)) * 64)


def measure_peak(dtype: str, backend: str, *, threads: int, n: int = DEFAULT_N, warmup: int = 2, runs: int = 5) -> dict:
    """{"status", "reason", "peak": {...}} for one GEMM of size `n`; a failure is a status, not an exception."""
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
    """(dtype, threads) -> the best *median* GFLOP/s over backends and measurements, from ok `peak` records.

    The median, not the fastest call: an artifact's p50 is a median too, and holding it against the
    luckiest GEMM call made every artifact look further from the limit than it is."""
    best: dict[tuple[str, int | None], float] = {}
    for record in peak_records:
        if record.get("kind") == "peak" and record.get("status") == STATUS_OK:
            peak = record["peak"]
            key = (peak["dtype"], peak["threads"])
            best[key] = max(best.get(key, 0.0), peak["median_gflops"])
    return best


def flag_falling_peaks(peak_records: list[dict]) -> None:
    """Mark (in place) each peak whose median GFLOP/s is below the same backend's at fewer threads: more
    threads cannot be slower on a quiet machine, so the machine was busy or the GEMM too small."""
    by_backend: dict[tuple[str, str], list[dict]] = {}
    for record in peak_records:
        if record.get("kind") == "peak" and record.get("status") == STATUS_OK:
            by_backend.setdefault((record["peak"]["dtype"], record["peak"]["backend"]), []).append(record["peak"])
    for peaks in by_backend.values():
        for peak in peaks:
            fewer = [p for p in peaks if (p["threads"] or 0) < (peak["threads"] or 0)]
            slower_than = [p for p in fewer if p["median_gflops"] > peak["median_gflops"]]
            if slower_than:
                worst = max(slower_than, key=lambda p: p["median_gflops"])
                reasons = peak.setdefault("reasons", [])
                reasons.append(f"falls as threads rise: {peak['median_gflops']:.1f} GFLOP/s at {peak['threads']} threads, "
                               f"{worst['median_gflops']:.1f} at {worst['threads']}")
                peak["disturbed"] = True
            else:
                peak.setdefault("disturbed", False)
                peak.setdefault("reasons", [])


# ---------------------------------------------------------------------------------------------
# Memory bandwidth: a STREAM-style triad a = b + s x c over arrays far larger than any cache, split over
# `threads` Python threads (numpy releases the GIL in ufuncs). STREAM's byte count: 3 arrays x 8 bytes per
# element (read b, read c, write a), the write-allocate read not counted.

BANDWIDTH_ARRAY_BYTES = 64 * 2**20  # per array: 3 x 64 MiB, well past any L3


def measure_bandwidth(*, threads: int, array_bytes: int = BANDWIDTH_ARRAY_BYTES, warmup: int = 1, runs: int = 5) -> dict:
    """{"status", "reason", "bandwidth": {...}} for the triad at `threads`; a failure is a status."""
    from concurrent.futures import ThreadPoolExecutor

    try:
        count = array_bytes // 8
        a, b, c = np.zeros(count), np.ones(count), np.full(count, 2.0)
        bounds = np.linspace(0, count, threads + 1).astype(int)
        parts = [(a[lo:hi], b[lo:hi], c[lo:hi], np.empty(hi - lo)) for lo, hi in zip(bounds[:-1], bounds[1:])]

        def triad(part):
            out, x, y, tmp = part
            np.multiply(y, 3.0, out=tmp)  # STREAM's scalar; the temporary is counted below
            np.add(x, tmp, out=out)

        with ThreadPoolExecutor(threads) as pool:
            samples = time_calls(lambda: list(pool.map(triad, parts)), warmup=warmup, runs=runs)
    except Exception as exc:
        return {"status": STATUS_FAILED, "reason": f"memory bandwidth failed: {type(exc).__name__}: {exc}".splitlines()[0],
                "bandwidth": None}
    # numpy needs two passes (tmp = 3c; a = b + tmp): 5 array streams of 8 bytes per element are moved.
    moved = 5 * 8 * count
    return {"status": STATUS_OK, "reason": None,
            "bandwidth": {"op": "triad", "threads": threads, "array_bytes": int(array_bytes), "bytes_per_call": moved,
                          "warmup": warmup, "runs": runs, "gbps": moved / (min(samples) / 1e3) / 1e9,
                          "median_gbps": moved / (percentile(samples, 50) / 1e3) / 1e9}}


def best_bandwidths(records: list[dict]) -> dict[int | None, float]:
    """threads -> the best median GB/s of the run's `bandwidth` records."""
    best: dict[int | None, float] = {}
    for record in records:
        if record.get("kind") == "bandwidth" and record.get("status") == STATUS_OK:
            bw = record["bandwidth"]
            best[bw["threads"]] = max(best.get(bw["threads"], 0.0), bw["median_gbps"])
    return best
