"""`edgevit verify`: parity of artifacts against their SavedModel on a labelled split."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check that each artifact gives the SavedModel's answers on a labelled split (exit != 0 if any fails its gate)",
        description="Run the SavedModel and every artifact on the same labelled images; report accuracy, its difference "
        "(95% interval), top-1 agreement, flipped images, probability errors and KL divergence, and judge each "
        "artifact by the gate of its quantization mode. Prints the table; writes only what --json, --records and "
        "--write-golden name, each replacing only an earlier file or folder of the same kind.",
    )
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACTS_DIR_OR_ARTIFACT",
                   help="artifact folders, or folders of them (the --out of `edgevit export`)")
    p.add_argument("--saved-model", help="the reference SavedModel (default: the source recorded in the artifacts' manifests)")
    p.add_argument("--data", help="data folder ROOT/<split>/<CLASS>/ (default: the data set recorded in the SavedModel's manifest)")
    p.add_argument("--split", default="test", help="split to verify on (default %(default)s)")
    p.add_argument("--recipe", help="recipe TOML whose [gates.<artifact-name>] tables override the default gates")
    p.add_argument("--max-images", type=int, help="verify on this many images spread evenly over the split (default: all)")
    p.add_argument("--threads", type=int, help="intra-op threads for every runtime (default: each runtime's own)")
    p.add_argument("--json", help="write the full results (flipped images included) to this JSON file")
    p.add_argument("--records", help="also write one record-v1 'verify' record per artifact (for `edgevit bench`/`report`)")
    p.add_argument("--write-golden", metavar="DIR", help="write golden vectors (inputs + SavedModel probabilities) to DIR")
    p.add_argument("--golden-count", type=int, default=8, help="images in the golden vectors (default %(default)s)")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from edgevit.fsutil import atomic_write_json
    from edgevit.outputs import GOLDEN, RECORDS, VERIFY_JSON, Output, artifact_inputs, check_outputs
    from edgevit.runners import RunnerOptions
    from edgevit.verify.run import verify_artifacts
    from edgevit.verify.report import format_table, report_to_dict, report_to_records, summary_error

    if args.threads is not None:
        from edgevit.bench.options import check_thread_count

        check_thread_count(args.threads)
    # Before any model runs: every output may be written, and none is an input or another output.
    check_outputs([Output("--json", args.json, VERIFY_JSON), Output("--records", args.records, RECORDS),
                   Output("--write-golden", args.write_golden, GOLDEN)],
                  inputs=[*artifact_inputs(args.artifacts), args.saved_model, args.data, args.recipe])
    report = verify_artifacts(
        args.artifacts,
        saved_model=args.saved_model,
        data=args.data,
        split=args.split,
        recipe=args.recipe,
        options=RunnerOptions(threads=args.threads),
        max_images=args.max_images,
        golden_dir=args.write_golden,
        golden_count=args.golden_count,
    )
    print(format_table(report))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, report_to_dict(report))
        print(f"results: {path}")
    if args.records:
        from edgevit.records import write_records

        print(f"records: {write_records(Path(args.records), report_to_records(report))}")
    error = summary_error(report)
    if error is not None:
        raise error
    return 0
