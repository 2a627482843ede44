"""`edgevit device bundle` and `edgevit ios-sync`: get an artifact onto a device with its golden vectors and gate."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    device = subparsers.add_parser("device", help="on-device runs: bundle an artifact for a Pi, Jetson or phone",
                                   description="On-device runs. `edgevit device bundle --help` says what it writes.")
    commands = device.add_subparsers(dest="device_command", required=True, parser_class=type(device))
    p = commands.add_parser("bundle", help="pack an artifact, golden vectors, gate and the standalone harness into a folder",
                            description="Copy the artifact, its golden vectors, its parity gate and the standalone harness "
                            "(run.py: numpy + one runtime) into OUT, to run on a Pi, Jetson or phone. Replaces an earlier "
                            "bundle in OUT (and OUT.zip with --zip); refuses a folder holding anything else.")
    p.add_argument("artifact", help="artifact folder (OUT/<name>/ from `edgevit export`; tflite or onnx)")
    p.add_argument("out", help="bundle folder to write (a new, empty or earlier bundle folder)")
    p.add_argument("--golden", default=None, help="golden vectors folder (default: ARTIFACT/golden or ARTIFACT/../golden)")
    p.add_argument("--zip", action="store_true", help="also write OUT.zip")
    p.add_argument("--runs", type=int, default=None, help="default timed runs on the device (default 50)")
    p.add_argument("--warmup", type=int, default=None, help="default warm-up runs on the device (default 5)")
    p.add_argument("--max-abs-error", type=float, default=None, help="override the gate's max |probability difference|")
    p.add_argument("--min-agreement", type=float, default=None, help="override the gate's minimum top-1 agreement (0..1)")
    p.set_defaults(func=cmd_device_bundle)

    p = subparsers.add_parser("ios-sync", help="copy .tflite/.mlpackage, manifests, gates and golden vectors into ios_demo",
                              description="Copy the artifacts, their manifests and gates and the golden vectors into the iOS "
                              "app's Models folder. Replaces an earlier sync there; refuses a folder holding anything else.")
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="artifact folder(s): at most one tflite and one coreml")
    p.add_argument("--golden", default=None, help="golden vectors folder (default: ARTIFACT/golden or ARTIFACT/../golden)")
    p.add_argument("--models-dir", default=None, help="the app's Models folder (default: ios_demo/EdgeViTDemo/Models of this checkout)")
    p.add_argument("--podfile", default=None, help="the Podfile the app is built with: a .tflite needing a newer TFLite than "
                   "its TensorFlowLiteSwift pin is refused (default: the Podfile two folders above --models-dir, else ios_demo/Podfile)")
    p.set_defaults(func=cmd_ios_sync)


def cmd_device_bundle(args: argparse.Namespace) -> int:
    from edgevit.device.bundle import RunDefaults, make_bundle

    defaults = RunDefaults(**{k: v for k, v in (("runs", args.runs), ("warmup", args.warmup)) if v is not None})
    result = make_bundle(artifact=Path(args.artifact), out=Path(args.out), golden=Path(args.golden) if args.golden else None,
                         defaults=defaults, max_abs_error=args.max_abs_error, min_agreement=args.min_agreement,
                         make_zip=args.zip)
    gate = result.gate
    agreement = "not gated" if gate.min_agreement is None else f">= {gate.min_agreement:.1%}"
    print(f"bundle: {result.folder} (gate: max |dp| {gate.max_abs_error}, top-1 agreement {agreement}; {gate.source})")
    if result.zip_path:
        print(f"zip: {result.zip_path}")
    print(f"on the device: cd {result.folder.name} && python3 run.py   (see {result.folder.name}/README.md)")
    return 0


def cmd_ios_sync(args: argparse.Namespace) -> int:
    from edgevit.device.ios import ios_sync

    result = ios_sync(artifacts=[Path(a) for a in args.artifacts], golden=Path(args.golden) if args.golden else None,
                      models_dir=Path(args.models_dir) if args.models_dir else None,
                      podfile=Path(args.podfile) if args.podfile else None)
    for fmt, folder in result.formats.items():
        print(f"{fmt}: {folder} -> {result.models_dir / fmt}")
    print(f"golden vectors: {result.golden_count} -> {result.models_dir / 'golden'}")
    print("now build ios_demo in Xcode (see ios_demo/README.md)")
    return 0
