"""`edgevit data synth OUT`: draw a synthetic bird data set in the ROOT/{train,valid,test}/<CLASS>/ layout."""

from __future__ import annotations

from pathlib import Path

from edgevit.commands import Parser
from edgevit.errors import UsageError


def register(sub) -> None:
    data = sub.add_parser("data", help="data set tools").add_subparsers(dest="data_command", required=True, parser_class=Parser)
    p = data.add_parser("synth", help="draw a synthetic bird data set in the ROOT/{train,valid,test}/<CLASS>/ layout",
                        description="Draw procedurally generated bird species as JPEG images in OUT/{train,valid,test}/<SPECIES>/. "
                        "Writes OUT only if it is new or empty; overwrites nothing.")
    p.add_argument("out", help="output folder (must not exist or be empty)")
    p.add_argument("--classes", type=int, default=10, help="number of species (default %(default)s)")
    p.add_argument("--per-class", type=int, default=100, help="train images per species (default %(default)s)")
    p.add_argument("--eval-per-class", type=int, default=None, help="valid and test images per species (default: per-class/5, at least 5)")
    p.add_argument("--image-size", type=int, default=64, help="default %(default)s")
    p.add_argument("--seed", type=int, default=0, help="default %(default)s")
    p.set_defaults(func=cmd_data_synth)


def cmd_data_synth(args) -> int:
    from edgevit.data.synth import write_synthetic_birds
    from edgevit.outputs import DATA, Output, check_outputs

    check_outputs([Output(None, args.out, DATA)])  # a new or empty folder where we may write, before any bird is drawn
    try:
        summary = write_synthetic_birds(
            Path(args.out),
            num_classes=args.classes,
            per_class=args.per_class,
            eval_per_class=args.eval_per_class,
            image_size=args.image_size,
            seed=args.seed,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    print(f"wrote {len(summary.class_names)} synthetic species to {summary.root} ({counts} images)")
    return 0
