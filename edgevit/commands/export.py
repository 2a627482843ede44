"""`edgevit export SAVED_MODEL --out DIR [--format tflite|onnx|coreml|all] [--quantization ...] [--recipe FILE]`."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path

from edgevit.errors import UsageError
from edgevit.exporters.options import (COREML_MINIMUM_IOS, ONNX_OPSETS, OPTIONS, CoreMLOptions, OnnxOptions, TFLiteOptions,
                                      make_options, options_to_dict)
from edgevit.formats import EXPORT_FORMATS, FORMATS, Format, TFLiteQuantization, parse_format

ALL = "all"
DEFAULT_FORMAT = Format.TFLITE  # its default quantization is dynamic range (int8 weights), what the reference case shipped
# Flags that belong to one format's options: option name -> format (every option but quantization has
# at most one flag; options without a flag, like representative_seed, are simply never set from the CLI).
_FORMAT_FLAGS = {f.name: fmt for fmt, cls in OPTIONS.items() for f in fields(cls) if f.name != "quantization"}


def register(subparsers) -> None:
    def choices(fmt) -> str:
        cls = OPTIONS[fmt]
        default = cls().quantization
        return f"{fmt.value} " + "|".join(q.value + (" (default)" if q is default else "") for q in type(default))

    p = subparsers.add_parser(
        "export",
        help=f"SavedModel -> {' / '.join(FORMATS[fmt].title for fmt in EXPORT_FORMATS)} artifacts (each built in its own process)",
        description="Build device artifacts from a SavedModel written by `edgevit train`. Each artifact is a folder "
        "OUT/<name>/ with the model, manifest.json and labels.txt; OUT/artifacts.json lists every artifact and its status. "
        "Rebuilding an artifact replaces its folder (only once the new one is complete); other artifacts in OUT stay.",
    )
    p.add_argument("saved_model", help="the saved_model/ folder `edgevit train` wrote")
    p.add_argument("--out", required=True, help="output folder for the artifacts")
    p.add_argument("--format", choices=[*(fmt.value for fmt in OPTIONS), ALL], help=f"format to build (default {DEFAULT_FORMAT}, weight-quantized: what ships to the phone); 'all' builds each format's default")
    p.add_argument("--quantization", help="comma-separated; " + "; ".join(choices(fmt) for fmt in OPTIONS))
    p.add_argument("--recipe", help="TOML recipe naming the artifacts and their parity gates (see export/demo.toml)")
    p.add_argument("--name", help="artifact folder name (one artifact only; default <format>-<quantization>)")
    p.add_argument("--data", help="tflite int8: data set ROOT whose train/ split calibrates activations; with --fit-gate: "
                   "the labelled data set searched (calibration split) and judged (test split) "
                   "(default: the one recorded in the SavedModel's manifest)")
    p.add_argument("--representative-images", type=int,
                   help=f"tflite int8: calibration images drawn from the train split (default {TFLiteOptions().representative_images})")
    p.add_argument("--min-runtime", help="tflite: the oldest TFLite runtime that must load the artifact, e.g. 2.14 "
                   "(keeps older op versions; fails naming the op when it cannot; default: what the converter writes)")
    p.add_argument("--float-io", action="store_true", default=None,
                   help="tflite int8: float32 input and output (quantized inside the model), as the iOS app's TensorFlowLiteSwift needs")
    p.add_argument("--opset", type=int, help=f"onnx: opset {ONNX_OPSETS[0]}-{ONNX_OPSETS[-1]} (default {OnnxOptions().opset})")
    p.add_argument("--minimum-ios", type=int, help=f"coreml: iOS deployment target, one of {', '.join(map(str, COREML_MINIMUM_IOS))} (default {CoreMLOptions().minimum_ios})")
    p.add_argument("--fit-gate", action="store_true",
                   help="onnx int8-dynamic, tflite dynamic, coreml int8|palettize6|palettize4: keep the most sensitive "
                        "layers (patch embedding, transformer blocks, head) in float until the artifact passes its parity gate on the calibration split, then "
                        "confirm it on the test split (edgevit/fitgate.py)")
    p.add_argument("--calibration-split", default=None, help="with --fit-gate: the split the search is judged on (default valid)")
    p.add_argument("--records", help="with --fit-gate: also write one record-v1 'fit-gate' record per search step (size, "
                                     "calibration agreement, latency) for `edgevit report`, also when no mix passes")
    p.add_argument("--max-size", type=float, metavar="MB",
                   help="with --fit-gate: the largest artifact it may choose, in MB (10^6 bytes), e.g. 40%% of the float "
                        "model's size; no mix within it passing is the same error as none passing")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from edgevit.exporters.jobs import export_all, raise_for_failures

    if args.fit_gate or args.calibration_split or args.records or args.max_size is not None:
        return _fit_gate(args)
    jobs, recipe = _jobs(args)
    out = Path(args.out)
    results = export_all(saved_model=Path(args.saved_model), out_dir=out, recipe=recipe, jobs=jobs)
    built = sum(r.ok for r in results)
    print(f"{built} of {len(results)} artifact(s) built; index: {out / 'artifacts.json'}")
    raise_for_failures(results)
    return 0


def _fit_gate(args: argparse.Namespace) -> int:
    from edgevit.fitgate import CALIBRATION_SPLIT, NoMixPasses, fit_gate
    from edgevit.outputs import ARTIFACTS_ROOT, Output, check_outputs
    from edgevit.verify.gates import gate_for

    if not args.fit_gate:
        raise UsageError("--calibration-split, --records and --max-size belong to the --fit-gate search; add --fit-gate")
    if args.max_size is not None and not args.max_size > 0:
        raise UsageError(f"--max-size is the largest artifact the search may choose, in MB: a positive number, got {args.max_size:g}")
    from edgevit.verify.gates import read_gate_overrides

    # With --fit-gate a recipe gives the gate only ([gates.<name>]); the artifact comes from --format/--quantization.
    overrides, args.recipe = read_gate_overrides(args.recipe), None
    # With --fit-gate, --data is the labelled data set searched (calibration split) and judged (test split).
    data, args.data = args.data, None
    jobs, _ = _jobs(args)
    if len(jobs) != 1:
        raise UsageError(f"--fit-gate searches one artifact, but this command names {len(jobs)}")
    job = jobs[0]
    # Before the search: --out may take the artifact (export_all checks its folder again when it writes it).
    from edgevit.outputs import RECORDS

    outputs = [Output("--out", args.out, ARTIFACTS_ROOT, replace=False)]
    if args.records:
        outputs.append(Output("--records", args.records, RECORDS))
    check_outputs(outputs, inputs=[args.saved_model, data])
    gate = gate_for(job.name, job.format.value, job.options.quantization.value, overrides)
    try:
        result = fit_gate(Path(args.saved_model), Path(args.out), job, gate=gate, data=data,
                          calibration_split=args.calibration_split or CALIBRATION_SPLIT,
                          max_size=None if args.max_size is None else int(args.max_size * 1e6))
    except NoMixPasses as exc:
        _write_fit_records(args, exc.result)  # the steps measured are still worth a curve
        raise
    _write_fit_records(args, result)
    for i, step in enumerate(result.steps):
        print(f"step {i}: {len(step.float_layers)} layer(s) in float ({', '.join(step.float_layers) or 'none'}): "
              f"{step.file_size / 1e6:.3f} MB, agreement {step.agreement:.2%} ({step.verdict}), p50 {step.p50_ms:.2f} ms "
              f"({step.to_dict()['latency_timed']})")
    print(f"{result.folder}: {len(result.chosen.float_layers)} layer(s) in float; test split agreement "
          f"{result.test_agreement:.2%} ({result.test_verdict})")
    if result.test_verdict != "pass":
        from edgevit.errors import ParityError

        raise ParityError(f"{job.name} passes its gate on the calibration split but not on the test split "
                          f"(agreement {result.test_agreement:.2%}); the search was not tuned on it, so this is the honest answer")
    return 0


def _write_fit_records(args, result) -> None:
    import shlex

    if not args.records:
        return
    from edgevit.fitgate import fit_records
    from edgevit.records import write_records

    print(f"records: {write_records(Path(args.records), fit_records(result, command='edgevit ' + shlex.join(args.argv)))}")


def _format_flags(args) -> dict:
    return {dest: getattr(args, dest) for dest in _FORMAT_FLAGS if getattr(args, dest, None) is not None}


def _jobs(args):
    """(jobs, None) from --format/--quantization, or (None, recipe) from --recipe (optionally filtered by --format)."""
    from edgevit.exporters.jobs import ArtifactJob

    flags = _format_flags(args)
    if args.recipe:
        return None, _recipe(args, flags)
    args.format = args.format or DEFAULT_FORMAT.value
    formats = list(OPTIONS) if args.format == ALL else [parse_format(args.format, EXPORT_FORMATS)]
    for dest in flags:
        if _FORMAT_FLAGS[dest] not in formats:
            raise UsageError(f"--{dest.replace('_', '-')} is a {_FORMAT_FLAGS[dest]} option; it does not apply to --format {args.format}")
    if args.quantization and args.format == ALL:
        raise UsageError("--format all builds each format's default quantization; pick one --format to choose, or use --recipe")
    quantizations = [q.strip() for q in args.quantization.split(",")] if args.quantization else [None]
    if args.quantization and not all(quantizations):
        raise UsageError(f"--quantization {args.quantization!r} has an empty entry")
    jobs = []
    for fmt in formats:
        options = {dest: value for dest, value in flags.items() if _FORMAT_FLAGS[dest] == fmt}
        for quantization in quantizations:
            if quantization is not None:
                options["quantization"] = quantization
            jobs.append(ArtifactJob.create(fmt, **options))
    if args.name:
        if len(jobs) != 1:
            raise UsageError(f"--name names one artifact, but this command builds {len(jobs)}")
        jobs = [replace(jobs[0], name=args.name)]
    return jobs, None


def _recipe(args, flags: dict):
    from edgevit.recipes import load_recipe

    if args.quantization or args.name or set(flags) - {"data"}:
        raise UsageError("with --recipe, options come from the recipe file; only --format (a filter) and --data may be added")
    recipe = load_recipe(args.recipe)
    jobs = list(recipe.jobs)
    if args.format and args.format != ALL:
        fmt = parse_format(args.format, EXPORT_FORMATS)
        jobs = [j for j in jobs if j.format is fmt]
        if not jobs:
            raise UsageError(f"{args.recipe} has no {args.format} artifact; its artifacts: {', '.join(j.name for j in recipe.jobs)}")
    if "data" in flags:
        # --data overrides the calibration images of the recipe's TFLite int8 artifacts.
        jobs = [
            replace(j, options=make_options(j.format, {**options_to_dict(j.options), "data": flags["data"]}))
            if j.format is Format.TFLITE and j.options.quantization is TFLiteQuantization.INT8 else j
            for j in jobs
        ]
    return replace(recipe, jobs=tuple(jobs))
