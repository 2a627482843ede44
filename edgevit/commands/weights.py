"""`edgevit weights import SRC --out FILE.npz`: a ViT checkpoint -> the vit-keras layout `train --weights` loads."""

from __future__ import annotations

from edgevit.commands import Parser
from edgevit.config import VARIANTS
from edgevit.errors import UsageError


def _triple(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise UsageError(f"expected three comma-separated numbers (R,G,B in 0..1 units), got '{text}'")
    return values


def register(sub) -> None:
    p = sub.add_parser("weights", help="import pretrained ViT weights (Hugging Face, timm, ONNX) for `train --weights`")
    actions = p.add_subparsers(dest="weights_command", required=True, parser_class=Parser)
    imp = actions.add_parser(
        "import", help="convert a ViT checkpoint into the vit-keras .npz layout",
        description="SRC is a Hugging Face ViT or DINOv2 model.safetensors (with its config.json beside it, or --config), "
        "a timm ViT .safetensors (fused qkv), or an ONNX export of one of those. LayerScale and the source's input "
        "normalisation are folded into the weights; the position grid is resampled to --image-size with the source's "
        "own interpolation. The inferred architecture is printed and recorded in the .npz.")
    imp.add_argument("src", help="model.safetensors, a timm .safetensors, or an .onnx export")
    imp.add_argument("--out", required=True, help="the .npz to write (replaced only if an earlier import wrote it)")
    imp.add_argument("--variant", default=None, help=f"the edgevit variant it must fit (default: the one its shapes match; known: {', '.join(VARIANTS)})")
    imp.add_argument("--image-size", type=int, default=None, help="the training image size the position grid is resampled to (default: the variant's)")
    imp.add_argument("--config", default=None, help="the Hugging Face config.json (default: config.json beside SRC)")
    imp.add_argument("--source-mean", type=_triple, default=None, help="the source's input mean, R,G,B in 0..1 (default: the library's: DINOv2/timm ImageNet, HF ViT 0.5)")
    imp.add_argument("--source-std", type=_triple, default=None, help="the source's input std, R,G,B in 0..1 (default as for --source-mean)")
    imp.set_defaults(func=cmd_import)


def cmd_import(args) -> int:
    from edgevit.outputs import WEIGHTS_NPZ, Output, check_outputs
    from edgevit.weights import import_weights

    if args.image_size is not None and args.image_size < 1:
        raise UsageError(f"--image-size must be positive, got {args.image_size}")
    if not str(args.out).endswith(".npz"):
        raise UsageError(f"--out {args.out}: the weights file must end in .npz")
    check_outputs([Output("--out", args.out, WEIGHTS_NPZ)], inputs=[args.src, args.config])
    arch = import_weights(args.src, args.out, variant=args.variant, image_size=args.image_size, config=args.config,
                          source_mean=args.source_mean, source_std=args.source_std)
    print(f"source: {arch.source}")
    print(f"variant: {arch.variant}: patch {arch.patch_size}, width {arch.width}, depth {arch.depth}, "
          f"heads {arch.heads} (from {arch.heads_from}), MLP {arch.mlp_dim}")
    print(f"tokens: {arch.tokens} ({arch.image_size}x{arch.image_size} input); head pooling in the source: {arch.pool}")
    print(f"position grid: {arch.source_grid}x{arch.source_grid} -> {arch.grid}x{arch.grid}, {arch.interpolation}")
    print(f"LayerScale: {'folded into the attention-output and fc2 weights' if arch.layer_scale else 'none'}; "
          f"input normalisation mean {list(arch.source_mean)} std {list(arch.source_std)} folded into the patch embedding")
    for note in arch.notes:
        print(f"note: {note}")
    print(f"wrote {args.out}")
    return 0
