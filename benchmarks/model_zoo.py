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
# Test images verify runs each artifact on (of 300): the numpy Core ML interpreter is slow on a shared CPU.
VERIFY_IMAGES = 150
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
                "--warmup", "3", "--batch", "8", "--batch-runs", "5", "--max-images", str(VERIFY_IMAGES), "--results", str(out)]
        print(f"\n$ {shlex.join(argv)}", flush=True)
        if subprocess.call(argv):
            raise SystemExit(f"run_recipe failed for {arch}")


def _latest(folder: Path) -> Path | None:
    files = sorted(folder.glob("zoo_*.json"), key=lambda p: p.stem.rsplit("_", 1)[-1])
    return files[-1] if files else None


def _gate(gate: dict | None) -> str:
    if not gate:
        return "–"
    parts = []
    if gate.get("max_abs_error") is not None:
        parts.append(f"max abs ≤ {gate['max_abs_error']:g}")
    if gate.get("min_agreement") is not None:
        parts.append(f"agreement ≥ {gate['min_agreement']:.1%}")
    if gate.get("max_accuracy_drop") is not None:
        parts.append(f"drop ≤ {gate['max_accuracy_drop']:g} pt")
    return ", ".join(parts)


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows_for(arch: str, records: list[dict], artifacts: list[str], route_of) -> tuple[list[str], dict]:
    verify = {r["artifact"]["name"]: r for r in records if r["kind"] == "verify" and r.get("artifact")}
    bench = {}
    for r in records:
        if r["kind"] == "bench" and r.get("artifact") and (r.get("runtime") or {}).get("threads") in (2, None):
            bench.setdefault(r["artifact"]["name"], []).append(r)
    loads = sorted({(r.get("runtime") or {}).get("details", {}).get("load_average_1m") for rs in bench.values() for r in rs} - {None})
    rows = []
    for name in artifacts:
        fmt = name.split("-", 1)[0]
        v, bs = verify.get(name), bench.get(name, [])
        size = ((v or (bs[0] if bs else {})).get("artifact") or {}).get("file_size")
        if v is None:
            failed = next((b for b in bs if b["status"] == "export failed"), None)
            status = f"export failed: {_one_line(failed.get('reason'))}" if failed else "not built (no record)"
            rows.append(f"| {arch} | {name} | {status} | – | – | – | – | {route_of(fmt) or 'default'} |")
            continue
        parity = v.get("parity") or {}
        status = "✅ ok" if v["status"] == "ok" else f"❌ {v['status']}: {_one_line(v.get('reason') or '')}"
        if parity.get("agreement") is not None:
            agreement = f"{parity['agreement']:.1%} (max abs {parity['max_abs_diff']:.2g}, n={parity['count']})"
        else:
            agreement = "– (not run: see status)"
        timed = [b for b in bs if b["status"] == "ok" and (b.get("runtime") or {}).get("threads") == 2 and b.get("latency")]
        if timed:
            p50 = f"{timed[0]['latency']['p50_ms']:.3g} ({timed[0]['runtime']['name']})"
        else:
            why = next((b.get("reason") for b in bs if b.get("reason")), None)
            p50 = ("– (Core ML runs only on macOS; parity emulated)" if fmt == "coreml"
                   else f"– ({_one_line(why, 80)})" if why else "– (no bench record)")
        size_mb = f"{size / 1e6:.3g}" if size else "–"
        rows.append(f"| {arch} | {name} | {status} | {size_mb} | {agreement} | {_gate(parity.get('gate'))} | {p50} | "
                    f"{route_of(fmt) or 'default'} |")
    sm = [b for b in bench.get("savedmodel", []) if b["status"] == "ok" and b["runtime"]["threads"] == 2]
    facts = {"load": loads, "savedmodel_p50": sm[0]["latency"]["p50_ms"] if sm else None,
             "savedmodel_accuracy": next((v["parity"]["reference_accuracy"] for v in verify.values() if v.get("parity")), None)}
    return rows, facts


def table() -> str:
    sys.path.insert(0, str(ROOT))
    from edgevit.models import conversion_route
    from edgevit.recipes import load_recipe

    artifacts = [job.name for job in load_recipe(RECIPE).jobs]
    notes = json.loads((ZOO_RESULTS / "notes.json").read_text()) if (ZOO_RESULTS / "notes.json").is_file() else {}
    lines = ["| architecture | artifact | status | size (MB) | agreement with SavedModel | gate | p50 @ 2 threads (ms) | conversion route |",
             "|---|---|---|---:|---|---|---:|---|"]
    summary, sources = [], []
    for arch in ARCHITECTURES:
        path = _latest(ZOO_RESULTS / arch)
        if path is None:
            reason = notes.get(arch, "no results committed")
            lines.append(f"| {arch} | all 12 | not measured: {_one_line(reason, 400)} | – | – | – | – | – |")
            continue
        records = json.loads(path.read_text())["records"]
        rows, facts = _rows_for(arch, records, artifacts, lambda fmt: conversion_route({"variant": f"{arch}-tiny"}, fmt))
        lines += rows
        sources.append(path.relative_to(ROOT).as_posix())
        acc = facts["savedmodel_accuracy"]
        sm = facts["savedmodel_p50"]
        summary.append(f"- {arch}-tiny: SavedModel test accuracy {acc:.1%} after {EPOCHS} epochs" if acc is not None else f"- {arch}-tiny:")
        summary[-1] += (f", SavedModel p50 {sm:.3g} ms at 2 threads" if sm else "") + \
            (f"; 1-minute load average during its bench {min(facts['load']):g}–{max(facts['load']):g}" if facts["load"] else "")
    head = [f"Made by `python benchmarks/model_zoo.py table` from {', '.join(f'`{s}`' for s in sources) or 'no results'}.",
            "Each architecture's `-tiny` variant, trained on the synthetic birds (10 species, 64 px), exported by",
            f"`export/zoo.toml`, verified against its SavedModel on {VERIFY_IMAGES} images of the test split (default gates,",
            "`edgevit/formats.py`), and timed at batch 1 on this 2-core machine while other jobs ran (load average below;",
            "20 timed runs after 3 warm-ups). Core ML is verified by the numpy MIL interpreter (emulated); it has no latency on Linux.",
            f"The models had only {EPOCHS} epochs from random initialisation (accuracies below), so their probabilities are",
            "near-tied and the quantized modes' agreement gates flip images more often than a trained model would: a parity",
            "failure here is the gate doing its job, not a conversion error (every fp32 artifact agrees with its SavedModel within 1e-6).", ""]
    return "\n".join(head + summary + [""] + lines) + "\n"


def write_table() -> Path:
    import re

    sys.path.insert(0, str(ROOT))
    from edgevit.fsutil import atomic_write_text
    from edgevit.portable.machine import fingerprint

    text = table()
    out = RESULTS / f"model-zoo_{fingerprint()['id']}_{dt.date.today().isoformat()}.md"
    atomic_write_text(out, "# Model zoo\n\n" + text)
    readme = README.read_text()
    block = f"{TABLE_BEGIN}\n{text}{TABLE_END}"
    if TABLE_BEGIN in readme:
        readme = re.sub(re.escape(TABLE_BEGIN) + ".*?" + re.escape(TABLE_END), lambda _: block, readme, flags=re.S)
    else:
        raise SystemExit(f"README.md has no {TABLE_BEGIN} marker: add it where the table goes")
    atomic_write_text(README, readme)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=("build", "measure", "table"))
    parser.add_argument("archs", nargs="*", default=list(ARCHITECTURES), help=f"default: {' '.join(ARCHITECTURES)}")
    parser.add_argument("--work", default="/tmp/edgevit-zoo", help="runs, artifacts and data (default %(default)s)")
    parser.add_argument("--threads", default="2", help="bench thread counts (default %(default)s)")
    args = parser.parse_args(argv)
    unknown = set(args.archs) - set(ARCHITECTURES)
    if unknown:
        parser.error(f"unknown architecture(s) {', '.join(sorted(unknown))}; known: {', '.join(ARCHITECTURES)}")
    if args.step == "build":
        build(args.archs, Path(args.work))
    elif args.step == "measure":
        measure(args.archs, Path(args.work), args.threads)
    else:
        print(f"wrote {write_table()} and the README table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
