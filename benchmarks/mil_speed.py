"""The numpy MIL interpreter's speed-ups on a Core ML artifact: same numbers bit for bit, and how much faster.

    .venv/bin/python benchmarks/mil_speed.py ARTIFACT_DIR [...] [--images 16] [--inputs GOLDEN_DIR/inputs.f32]

For each Core ML artifact folder, in one process:
1. bitwise check: every output and every intermediate value of the program on a few images, the
   interpreter as it runs now vs `MilInterpreter(fast=False)` (numpy's fp16 cast after every op, none
   skipped, no erf table: the interpreter before the speed-ups). Any difference fails the run.
2. CPU time per image on one thread, the two interpreters interleaved image by image.
3. wall time per image of the Core ML runner as verify runs it (its default threads: one model call
   per core) vs the old runner (one thread, fast=False), interleaved, predictions compared bitwise.
Figures are ratios measured side by side in this run: the machine may be shared, compare nothing else.
Inputs: float32 NHWC images from a golden folder's inputs.f32 (repeated as needed), else uniform noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgevit.artifact import open_artifact  # noqa: E402
from edgevit.runners import runner_for  # noqa: E402
from edgevit.runners.mil import MilInterpreter  # noqa: E402
from edgevit.runners.options import RunnerOptions  # noqa: E402


def _images(shape: tuple[int, ...], count: int, inputs: Path | None) -> np.ndarray:
    if inputs is None:
        return np.random.default_rng(0).uniform(-1, 1, (count, *shape[1:])).astype(np.float32)
    pool = np.fromfile(inputs, np.float32).reshape(-1, *shape[1:])
    return np.concatenate([pool] * (count // len(pool) + 1))[:count]


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return repr(a) == repr(b)


def check_and_time(folder: Path, count: int, inputs: Path | None) -> str:
    from threadpoolctl import threadpool_limits

    package = folder / "model.mlpackage"
    fast, old = MilInterpreter.from_path(package), MilInterpreter.from_path(package, fast=False)
    spec = fast.program.inputs[0]
    images = _images(spec.shape, count, inputs)
    keep = {s.name for op in fast._steps for s in op.outputs}
    checked = min(3, count)
    for image in images[:checked]:
        feed = {spec.name: image[None]}
        (a_out, a_kept), (b_out, b_kept) = fast.run_keeping(feed, keep), old.run_keeping(feed, keep)
        differing = [name for name in (*b_out, *b_kept) if not _same({**a_out, **a_kept}[name], {**b_out, **b_kept}[name])]
        if differing:
            raise SystemExit(f"{folder.name}: {len(differing)} values differ from the old interpreter, first {differing[:3]}")

    cpu = {"old": 0.0, "new": 0.0}
    with threadpool_limits(limits=1):
        for i, image in enumerate(images):
            for name, interpreter in (("old", old), ("new", fast))[:: 1 if i % 2 else -1]:
                started = time.thread_time()
                interpreter.run({spec.name: image[None]})
                cpu[name] += time.thread_time() - started

    artifact = open_artifact(folder, check_integrity=False)
    new_runner = runner_for(artifact, options=RunnerOptions())
    old_runner = runner_for(artifact, options=RunnerOptions(threads=1))
    old_runner._interpreter = old  # the interpreter as before: numpy casts, nothing skipped, no tables
    wall, predictions = {"old": 0.0, "new": 0.0}, {}
    for round_ in range(2):
        for name, runner in (("old", old_runner), ("new", new_runner))[:: 1 if round_ % 2 else -1]:
            started = time.perf_counter()
            predictions[name] = runner.predict(images)
            wall[name] += time.perf_counter() - started
        if predictions["old"].tobytes() != predictions["new"].tobytes():
            raise SystemExit(f"{folder.name}: the runner's predictions differ from the old runner's")
    per_image = {k: v / count for k, v in cpu.items()}
    per_image_wall = {k: v / (2 * count) for k, v in wall.items()}
    return (f"{folder.name}: bitwise equal (every value of {checked} images, predictions of {count}); "
            f"one thread, CPU s/image old {per_image['old']:.3f} new {per_image['new']:.3f} ({cpu['old'] / cpu['new']:.2f}x); "
            f"runner ({new_runner.info.threads} threads), wall s/image old {per_image_wall['old']:.3f} "
            f"new {per_image_wall['new']:.3f} ({wall['old'] / wall['new']:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", nargs="+", type=Path, help="Core ML artifact folders (holding model.mlpackage)")
    parser.add_argument("--images", type=int, default=16, help="images timed (default 16)")
    parser.add_argument("--inputs", type=Path, help="a golden folder's inputs.f32 (default: uniform noise)")
    args = parser.parse_args()
    for folder in args.artifacts:
        print(check_and_time(folder, args.images, args.inputs), flush=True)


if __name__ == "__main__":
    main()
