"""Training throughput and MFU of ViT-L/32 at 224 px on this machine's accelerator, per batch size.

    python benchmarks/train_vit_l32.py --backend jax                       # bf16, synthetic input, batches 32..256
    python benchmarks/train_vit_l32.py --backend jax --input images --data-workers 16
    python benchmarks/train_vit_l32.py --variant tiny --image-size 32 --batch-sizes 8 --steps 3 --peak-n 512 \\
        --results /tmp/train-bench                                          # a CPU smoke run

Measures, in one process: the accelerator's matmul peak in the compute dtype through the backend,
then for each batch size the recipe's train step (edgevit.training.throughput). Writes

    benchmarks/results/train_<variant>_<precision>_<input>_<machine id>_<YYYY-MM-DD>.json and .md

and prints the exact command. On a machine without TensorFlow pick --backend jax or torch (the
default is tensorflow if installed, else jax, else torch).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing edgevit (the GPU machine)
RESULTS = ROOT / "benchmarks" / "results"


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got '{text}'")
    return values


def main(argv: list[str] | None = None) -> int:
    from edgevit.console import Verbosity, configure
    from edgevit.keras_backend import parse_backend
    from edgevit.config import VARIANTS
    from edgevit.training.precision import Precision
    from edgevit.training.throughput import INPUTS, BenchConfig, run_bench, write_results

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"), default=None, help="default: tensorflow if installed, else jax, else torch")
    p.add_argument("--variant", choices=tuple(VARIANTS), default="vit-l32")
    p.add_argument("--image-size", type=int, default=None, help="default: the variant's (224)")
    p.add_argument("--classes", type=int, default=250, help="head size (default %(default)s: the reference case)")
    p.add_argument("--trainable-blocks", default="all", help="'all' (default) or the last N blocks, as in the recipe")
    p.add_argument("--batch-sizes", type=_ints, default=(32, 64, 128, 256), help="comma-separated (default 32,64,128,256)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per batch size (default %(default)s)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up steps per batch size, compilation included (default %(default)s)")
    p.add_argument("--precision", choices=[x.value for x in Precision], default="bf16")
    p.add_argument("--jit", dest="jit_compile", action=argparse.BooleanOptionalAction, default=None, help="default: Keras' choice")
    p.add_argument("--input", choices=INPUTS, default="synthetic", help="synthetic: one batch kept on the device; images: files decoded every step")
    p.add_argument("--images", type=Path, default=None, help="with --input images: a data root with train/ or a folder of class folders "
                   "(default: synthetic birds drawn at the model's size)")
    p.add_argument("--synth-images", type=int, default=512, help="synthetic birds to draw for --input images (default %(default)s)")
    p.add_argument("--data-workers", type=int, default=None, help="decode threads for --input images (default min(8, cores))")
    p.add_argument("--peak-n", type=int, default=8192, help="size of the square matmul that measures the peak (default %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        p.error("--steps and --warmup must be at least 1")

    if args.trainable_blocks != "all" and not args.trainable_blocks.isdigit():
        p.error(f"--trainable-blocks must be 'all' or a number, got '{args.trainable_blocks}'")
    trainable = args.trainable_blocks if args.trainable_blocks == "all" else int(args.trainable_blocks)
    config = BenchConfig(
        backend=parse_backend(args.backend), variant=args.variant, image_size=args.image_size, num_classes=args.classes,
        trainable_blocks=trainable, batch_sizes=args.batch_sizes, steps=args.steps, warmup_steps=args.warmup,
        precision=Precision(args.precision), jit_compile=args.jit_compile, input=args.input, images=args.images,
        synth_images=args.synth_images, data_workers=args.data_workers, peak_n=args.peak_n,
    )
    configure(Verbosity.DEFAULT)  # run_bench logs its progress lines; shown as the edgevit CLI shows them
    result = run_bench(config)
    json_path, md_path = write_results(result, args.results)
    print(f"wrote {json_path} and {md_path}")
    print(f"command: {result['command']}")
    return 0 if all(r["status"] == "ok" for r in result["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
