"""`edgevit bench`: measure every artifact in a folder (and the SavedModel) and write the records."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    from edgevit.bench.options import BenchOptions

    d = BenchOptions()
    p = subparsers.add_parser(
        "bench", help="latency, memory, size and GFLOP/s of every artifact, against this machine's measured GEMM peak",
        description="Each artifact x runtime x device x thread count is measured in its own process. A runtime or "
                    "device that is missing here gives a record with status 'not available' and the reason. Writes the "
                    "records file --out (replacing only an earlier records file).")
    p.add_argument("artifacts", metavar="ARTIFACTS_DIR", nargs="?", help="the --out folder of `edgevit export`")
    p.add_argument("--saved-model", help="the SavedModel the artifacts came from: measured too, the base of the speed-up column")
    p.add_argument("--threads", default=",".join(map(str, d.threads)),
                   help="CPU thread counts, comma-separated, 'all' = every core (default %(default)s)")
    p.add_argument("--devices", default=",".join(d.devices), help="cpu, gpu or both (default %(default)s)")
    p.add_argument("--runs", type=int, default=d.runs, help="timed batch-1 calls (default %(default)s)")
    p.add_argument("--rounds", type=int, default=d.rounds,
                   help="the timed calls are split over this many rounds that interleave every artifact of one thread count, "
                        "so drift on the machine spreads over all of them (default %(default)s)")
    p.add_argument("--warmup", type=int, default=d.warmup,
                   help="at least this many untimed calls before them; more until the latency has settled (default %(default)s)")
    p.add_argument("--warmup-min-s", type=float, default=d.warmup_min_s, help="at least this long warming up (default %(default)s)")
    p.add_argument("--warmup-max-s", type=float, default=d.warmup_max_s,
                   help="stop warming up after this long even if not settled; the record says so (default %(default)s)")
    p.add_argument("--batch", type=int, default=d.batch, help="the larger throughput batch (default %(default)s)")
    p.add_argument("--batch-runs", type=int, default=d.batch_runs, help="timed calls at --batch (default %(default)s)")
    p.add_argument("--peak-n", type=int, default=d.peak_n, help="size of the square GEMM for the peak (default %(default)s)")
    p.add_argument("--setting", action="append", default=[], metavar="RUNTIME:KEY=VALUE[,KEY=VALUE]",
                   help="also measure RUNTIME with these settings, as an extra row next to its defaults (repeatable), e.g. "
                        "onnxruntime:graph_optimization=basic, onnxruntime:spinning=false, litert:xnnpack_latest=true, "
                        "litert:weight_cache=true (packed weights mapped from a cache file, one image per call), "
                        "savedmodel:jit_compile=true, savedmodel:onednn=false")
    p.add_argument("--verify", nargs="+", default=[], metavar="RECORDS",
                   help="records files from `edgevit verify`: their parity results are attached to the artifacts")
    p.add_argument("--out", required=True, help="records file to write (JSON, edgevit/schemas/record-v1.schema.json)")
    p.set_defaults(func=cmd_bench)


def command_line(args) -> str:
    """The command with every option spelled out, as parsed: what a reader needs to repeat the run."""
    parts = ["edgevit", "bench"] + ([args.artifacts] if args.artifacts else [])
    if args.saved_model:
        parts += ["--saved-model", args.saved_model]
    parts += ["--threads", args.threads, "--devices", args.devices, "--runs", str(args.runs), "--rounds", str(args.rounds),
              "--warmup", str(args.warmup), "--warmup-min-s", str(args.warmup_min_s), "--warmup-max-s", str(args.warmup_max_s),
              "--batch", str(args.batch), "--batch-runs", str(args.batch_runs), "--peak-n", str(args.peak_n)]
    for setting in args.setting:
        parts += ["--setting", setting]
    if args.verify:
        parts += ["--verify", *args.verify]
    return shlex.join(parts + ["--out", args.out])


def cmd_bench(args) -> int:
    from edgevit.bench.options import DEVICES, BenchOptions, parse_threads
    from edgevit.bench.records import describe
    from edgevit.bench.run import bench_artifacts
    from edgevit.errors import UsageError
    from edgevit.outputs import RECORDS, Output, artifact_inputs, check_outputs
    from edgevit.records import read_records, write_records
    from edgevit.runners.options import parse_setting

    if not args.artifacts and not args.saved_model:
        raise UsageError("edgevit bench: pass ARTIFACTS_DIR and/or --saved-model (see --help)")
    devices = tuple(d.strip() for d in args.devices.split(",") if d.strip())
    unknown = [d for d in devices if d not in DEVICES]
    if unknown or not devices:
        raise UsageError(f"--devices takes {', '.join(DEVICES)} separated by commas, got '{args.devices}'")
    options = BenchOptions(threads=parse_threads(args.threads), runs=args.runs, rounds=args.rounds, warmup=args.warmup,
                           warmup_min_s=args.warmup_min_s, warmup_max_s=args.warmup_max_s, batch=args.batch,
                           batch_runs=args.batch_runs, devices=devices, peak_n=args.peak_n,
                           settings=tuple(parse_setting(text) for text in args.setting)).check()
    # Before anything is measured: the records file may be written, and is none of the inputs.
    check_outputs([Output("--out", args.out, RECORDS)],
                  inputs=[*artifact_inputs([args.artifacts]), args.saved_model, *args.verify])
    verify_records = read_records(args.verify) if args.verify else []
    command = command_line(args)
    records = bench_artifacts(args.artifacts, saved_model=args.saved_model, options=options, verify_records=verify_records,
                              command=command, progress=lambda record: logger.info(describe(record)),  # progress: -q hides it
                              on_round=lambda r, rounds: logger.debug(f"[bench] round {r + 1} of {rounds}"))
    out = write_records(Path(args.out), records)
    measured = sum(1 for r in records if r["kind"] == "bench" and r["status"] == "ok")
    total = sum(1 for r in records if r["kind"] == "bench")
    print(f"{measured} of {total} measurements ok ({total - measured} not available or failed, with reasons) -> {out}")
    return 0
