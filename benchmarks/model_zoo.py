"""The model zoo: each zoo architecture's tiny variant trained on the synthetic birds, exported to
every format and mode (export/zoo.toml), verified against its SavedModel and timed; then one table.

    python benchmarks/model_zoo.py build  [ARCH ...]   # data, train, export (slow: minutes per architecture)
    python benchmarks/model_zoo.py measure [ARCH ...]  # verify + bench (benchmarks/run_recipe.py) -> results
    python benchmarks/model_zoo.py table                # README table + benchmarks/results/model-zoo_*.md

`build` and `measure` run the edgevit command line in child processes and print each command;
`measure` writes benchmarks/results/zoo/<arch>/zoo_<machine>_<date>.{json,md,html}. `table` reads only
those committed files, so the table is remade from the results, never typed by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ZOO_RESULTS = RESULTS / "zoo"
RECIPE = ROOT / "export" / "zoo.toml"
README = ROOT / "README.md"
ARCHITECTURES = ("inception-v3", "mlp-mixer", "poolformer", "swin", "sequencer2d")
EPOCHS = 3
DATA = dict(classes=10, per_class=120, eval_per_class=30)
TABLE_BEGIN, TABLE_END = "<!-- model-zoo table: begin (benchmarks/model_zoo.py table) -->", "<!-- model-zoo table: end -->"


def edgevit(argv: list[str], *, allowed=(0,)) -> int:
    print(f"\n$ {shlex.join(['edgevit', *argv])}", flush=True)
    code = subprocess.call([sys.executable, "-m", "edgevit", *argv])
    if code not in allowed:
        raise SystemExit(f"edgevit {argv[0]} failed with exit code {code}")
    return code


def build(archs, work: Path) -> None:
    data = work / "birds"
    if not data.is_dir():
        edgevit(["data", "synth", "--classes", str(DATA["classes"]), "--per-class", str(DATA["per_class"]),
                 "--eval-per-class", str(DATA["eval_per_class"]), str(data)])
    for arch in archs:
        run = work / arch
        edgevit(["train", str(data), "--out", str(run), "--variant", f"{arch}-tiny", "--epochs", str(EPOCHS),
                 "--batch-size", "64", "--no-pretrained"])
        # Exit codes 5 (some artifact failed) are statuses in artifacts.json, recorded by verify/bench.
        edgevit(["export", str(run / "saved_model"), "--out", str(run / "artifacts"), "--recipe", str(RECIPE)],
                allowed=(0, 5))


def measure(archs, work: Path, threads: str) -> None:
    for arch in archs:
        run = work / arch
        out = ZOO_RESULTS / arch
        out.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, str(ROOT / "benchmarks" / "run_recipe.py"), str(RECIPE), "--saved-model", str(run / "saved_model"),
                "--work", str(run), "--skip-export", "--threads", threads, "--devices", "cpu", "--runs", "20",
                "--warmup", "3", "--batch", "8", "--batch-runs", "5", "--results", str(out)]
        print(f"\n$ {shlex.join(argv)}", flush=True)
        if subprocess.call(argv):
            raise SystemExit(f"run_recipe failed for {arch}")
