"""How fast each runtime's own GEMM kernel runs a ViT's dense layers at batch 1, at the model's own shapes.

The bench's GEMM peak is a square n x n x n product. At batch 1 a ViT's dense layers are skinny: ViT-L/32 at
224 px multiplies 50 token rows by 1024 x 1024, 1024 x 4096 and 4096 x 1024 weights. This times each of those
shapes alone, as a one-op model with constant weights (so the runtime packs them once, as it does for an
artifact), in each runtime kernel an artifact runs, and sums count x median over the shapes: the time the
dense layers alone take in that kernel. An artifact cannot beat it; its ratio to the square peak says how much
of the square peak the model's shapes allow. The square peak is measured in the same run.

One op called again keeps its weights in the last-level cache (a 1024 x 4096 float32 weight is 16 MB; this CPU's L3
is 32 MB), which a model does not: ViT-L/32 reads 1.2 GB of distinct float32 weights per image. So each kernel also
runs every dense layer of the model as one chain, each layer with its own weights, at the model's token rows: the
dense layers as the model meets them, weights from memory. An artifact of that kernel cannot beat the chain either.

    .venv/bin/python benchmarks/gemm_shapes.py --variant vit-l32 --image-size 224 --classes 250 --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgevit.bench.peak import litert_dense_chain, litert_invoker, measure_peak, ort_cpu_session, ort_model, scaled_n  # noqa: E402
from edgevit.config import VARIANTS  # noqa: E402
from edgevit.model_cost import GemmShape, vit_gemm_shapes  # noqa: E402
from edgevit.portable.timing import percentile, time_calls  # noqa: E402

# kernel -> (dtype of its square peak, backend of that peak)
KERNELS = {
    "litert float32 (XNNPACK FULLY_CONNECTED)": ("float32", "litert"),
    "litert int8 weights, dynamic (XNNPACK FULLY_CONNECTED)": ("int8", "litert"),
    "onnxruntime float32 (MatMul)": ("float32", "onnxruntime"),
    "onnxruntime int8 dynamic (quantize_dynamic)": ("int8", "onnxruntime"),
}


def chain_widths(variant: str, *, image_size: int, classes: int) -> list[int]:
    """The widths along the model's dense layers in order: patch embedding, then per block query, key, value,
    attention output, MLP 1, MLP 2, then the head (every layer at the token rows, so the chain links up)."""
    spec = VARIANTS[variant]
    d, m = spec.hidden_size, spec.mlp_dim
    block = [d, d, d, d, m, d]  # the widths after each of the block's six dense layers
    return [spec.patch_size ** 2 * 3, d, *(block * spec.num_layers), classes]


def _ort_chain(rows: int, widths: list[int], threads: int, *, int8: bool):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, weights = [], []
    for index, (depth, width) in enumerate(zip(widths, widths[1:])):
        weights.append(numpy_helper.from_array((rng.standard_normal((depth, width)) / np.sqrt(depth)).astype(np.float32), f"w{index}"))
        nodes.append(helper.make_node("MatMul", ["x" if index == 0 else f"y{index - 1}", f"w{index}"], [f"y{index}"]))
    model = ort_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, widths[0]])],
                      [helper.make_tensor_value_info(f"y{len(nodes) - 1}", TensorProto.FLOAT, [rows, widths[-1]])], weights)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.onnx"
        onnx.save(model, path)
        del model, weights
        if int8:  # the exporter's own route: MatMulInteger on per-call quantized uint8 activations
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(path, path.with_name("int8.onnx"), weight_type=QuantType.QInt8)
            path = path.with_name("int8.onnx")
        session = ort_cpu_session(path.read_bytes(), threads)
    feeds = {"x": np.random.default_rng(1).standard_normal((rows, widths[0]), dtype=np.float32)}
    return lambda: session.run(None, feeds)


def _chain_call(kernel: str, rows: int, widths: list[int], threads: int):
    dtype, backend = KERNELS[kernel]
    if backend == "litert":
        return litert_invoker(litert_dense_chain(rows, widths, int8=dtype == "int8"), (rows, widths[0]), threads)
    return _ort_chain(rows, widths, threads, int8=dtype == "int8")


def _call(kernel: str, shape: GemmShape, threads: int):
    """One shape alone: a chain of one layer."""
    return _chain_call(kernel, shape.rows, [shape.depth, shape.width], threads)


def measure(variant: str, *, image_size: int, classes: int, threads: int, runs: int = 15, chain_runs: int = 7) -> dict:
    """Per kernel: each shape's median ms, the summed dense-layer time, the chain of every dense layer with its own
    weights, and the square peak of the same run."""
    shapes = vit_gemm_shapes(VARIANTS[variant], image_size=image_size, num_classes=classes)
    square_n = scaled_n(1024, threads)
    rows = shapes[1].rows  # the token rows of the blocks' layers
    widths = chain_widths(variant, image_size=image_size, classes=classes)
    chain_flops = 2 * rows * sum(d * w for d, w in zip(widths, widths[1:]))
    kernels = {}
    for kernel, (dtype, backend) in KERNELS.items():
        per_shape, total_ms, dense_macs = [], 0.0, 0
        for shape in shapes:
            median_ms = percentile(time_calls(_call(kernel, shape, threads), warmup=3, runs=runs), 50)
            total_ms += shape.count * median_ms
            dense_macs += shape.macs
            per_shape.append({"layer": shape.layer, "rows": shape.rows, "depth": shape.depth, "width": shape.width,
                              "count": shape.count, "median_ms": median_ms,
                              "gflops": 2 * shape.rows * shape.depth * shape.width / (median_ms / 1e3) / 1e9})
        chain_ms = percentile(time_calls(_chain_call(kernel, rows, widths, threads), warmup=2, runs=chain_runs), 50)
        chain = chain_flops / (chain_ms / 1e3) / 1e9
        peak = measure_peak(dtype, backend, threads=threads, n=square_n, runs=7)
        square = peak["peak"]["median_gflops"] if peak["status"] == "ok" else None
        shaped = 2 * dense_macs / (total_ms / 1e3) / 1e9
        kernels[kernel] = {"dense_layers_ms": total_ms, "shaped_gflops": shaped, "square_peak_gflops": square,
                           "square_n": square_n, "shaped_over_square": shaped / square if square else None,
                           "chain_ms": chain_ms, "chain_gflops": chain, "chain_over_square": chain / square if square else None,
                           "shapes": per_shape}
    return {"variant": variant, "image_size": image_size, "classes": classes, "threads": threads, "runs_per_shape": runs,
            "timed": "median of the runs of one op with constant weights, after 3 warm-ups; dense layers = sum of count x median",
            "chain": {"rows": rows, "layers": len(widths) - 1, "gflop": chain_flops / 1e9, "runs": chain_runs,
                      "timed": "median of the runs of the whole chain (its own weights per layer), after 2 warm-ups"},
            "kernels": kernels}


def markdown(result: dict) -> list[str]:
    lines = [f"Dense layers of {result['variant']} at {result['image_size']} px, batch 1, {result['threads']} thread(s): "
             f"each shape timed alone ({result['timed']}), "
             f"and all {result['chain']['layers']} dense layers as one chain with their own weights at {result['chain']['rows']} "
             f"rows ({result['chain']['gflop']:.1f} GFLOP; {result['chain']['timed']}):", "",
             "| kernel | dense layers ms, shapes alone | GFLOP/s | chain ms | chain GFLOP/s | square peak GFLOP/s (n) | "
             "shapes / square | chain / square |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kernel, k in result["kernels"].items():
        square = "–" if k["square_peak_gflops"] is None else f"{k['square_peak_gflops']:.1f} ({k['square_n']})"
        ratio = "–" if k["shaped_over_square"] is None else f"{100 * k['shaped_over_square']:.0f}%"
        chain = "–" if k["chain_over_square"] is None else f"{100 * k['chain_over_square']:.0f}%"
        lines.append(f"| {kernel} | {k['dense_layers_ms']:.1f} | {k['shaped_gflops']:.1f} | {k['chain_ms']:.1f} | "
                     f"{k['chain_gflops']:.1f} | {square} | {ratio} | {chain} |")
    lines += ["", "| kernel | layer | rows x depth x width | count | median ms | GFLOP/s |", "|---|---|---|---:|---:|---:|"]
    for kernel, k in result["kernels"].items():
        for s in k["shapes"]:
            lines.append(f"| {kernel} | {s['layer']} | {s['rows']} x {s['depth']} x {s['width']} | {s['count']} | "
                         f"{s['median_ms']:.3f} | {s['gflops']:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", default="vit-l32", choices=sorted(VARIANTS))
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--classes", type=int, default=250)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)
    result = measure(args.variant, image_size=args.image_size, classes=args.classes, threads=args.threads, runs=args.runs)
    print("\n".join(markdown(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
