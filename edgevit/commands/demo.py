"""`edgevit demo`: synthetic birds -> tiny ViT -> SavedModel -> artifacts, verified and benchmarked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from edgevit.config import DemoConfig


def register(sub) -> None:
    demo_defaults = DemoConfig()
    p = sub.add_parser(
        "demo", help="synthetic birds -> tiny ViT -> SavedModel -> artifacts, verified and benchmarked",
        description="The whole pipeline on built-in data: draw synthetic birds, fine-tune a tiny ViT (exit 7 below 85% test "
        "accuracy), export every format, verify parity, benchmark and report. Writes OUT/data (kept while the options are "
        "unchanged), OUT/train, OUT/artifacts, OUT/golden, OUT/report and OUT/demo.json; overwrites what an earlier demo "
        "wrote there and refuses a folder holding anything else.")
    p.add_argument("--out", default="runs/demo", help="output folder (default %(default)s)")
    p.add_argument("--classes", type=int, default=demo_defaults.num_classes, help="synthetic species (default %(default)s)")
    p.add_argument("--per-class", type=int, default=demo_defaults.per_class, help="train images per species (default %(default)s)")
    p.add_argument("--epochs", type=int, default=demo_defaults.train.epochs, help="default %(default)s")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from edgevit.demo import run_demo

    defaults = DemoConfig()
    config = replace(
        defaults,
        num_classes=args.classes,
        per_class=args.per_class,
        train=replace(defaults.train, epochs=args.epochs),
    )
    return run_demo(Path(args.out), config)
