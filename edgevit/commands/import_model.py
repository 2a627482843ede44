"""`edgevit import MODEL --out RUN`: a Keras image classifier edgevit did not train -> RUN/saved_model."""

from __future__ import annotations

import argparse

from edgevit.config import RESIZE_METHODS

_PRESETS = ("[-1,1]", "[0,1]", "imagenet", "[0,255]")  # edgevit.savedmodel.importing.PRESETS (not imported: TF-free help)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import",
        help="bring a Keras image classifier edgevit did not train (.keras, SavedModel folder or module:function) into RUN/saved_model",
        description="Read a Keras image classifier and write RUN/saved_model with its manifest.json, as `edgevit train` does, "
        "so export, verify, bench and report take it unchanged. MODEL is a .keras file, a Keras model.export() folder, a "
        "tf.saved_model folder, or module:function (or file.py:function) returning a keras.Model. The input size and the "
        "number of classes are read from the model; the class names and the input scaling come from the flags. "
        "Writes RUN/saved_model/ and RUN/import.json, replacing those of an earlier `edgevit import` into RUN (and nothing "
        "else there); any other non-empty RUN is refused.",
    )
    p.add_argument("model", metavar="MODEL", help=".keras file, SavedModel folder, or module:function")
    p.add_argument("--out", required=True, metavar="RUN", help="output folder: new, empty or an earlier import (its saved_model/ is replaced)")
    p.add_argument("--labels", metavar="FILE", help="class names, one a line, in the order of the model's outputs (required)")
    p.add_argument("--preprocess", metavar="PRESET", choices=_PRESETS,
                   help=f"how 0..255 pixels are scaled for the model: {', '.join(_PRESETS)} (or give --mean and --std)")
    p.add_argument("--mean", metavar="R,G,B", help="subtracted from 0..255 pixels (one number or three)")
    p.add_argument("--std", metavar="R,G,B", help="then divided by (one number or three)")
    p.add_argument("--resize", choices=RESIZE_METHODS, default="bilinear", help="resize method (default %(default)s)")
    p.add_argument("--softmax", action="store_true", help="the model returns logits: append a softmax")
    p.add_argument("--image-size", type=int, metavar="PIXELS", help="only for a model that takes any image size")
    p.add_argument("--signature", metavar="NAME", help="SavedModel signature to import (default: the one image classifier signature)")
    p.add_argument("--allow-unsafe", action="store_true",
                   help="let Keras run Python code stored in a .keras file (Lambda layers); only for files you trust")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from edgevit.errors import UsageError
    from edgevit.savedmodel.importing import ImportOptions, import_model, parse_labels_file, resolve_preprocessing

    if args.image_size is not None and args.image_size < 1:
        raise UsageError(f"--image-size {args.image_size}: give a whole number of pixels >= 1")
    mean, std = resolve_preprocessing(args.preprocess, args.mean, args.std)
    labels = parse_labels_file(args.labels) if args.labels is not None else None
    options = ImportOptions(labels=labels, mean=mean, std=std, resize=args.resize, softmax=args.softmax,
                            allow_unsafe=args.allow_unsafe, signature=args.signature, image_size=args.image_size)
    result = import_model(args.model, args.out, options, labels_file=args.labels)
    added = ", softmax appended" if result.softmax_added else ""
    via = f" (signature {result.signature})" if result.signature else ""
    print(f"imported {result.form}{via}: {result.height}x{result.width} input, {len(result.labels)} classes, "
          f"{result.params:,} parameters{added}")
    print(f"SavedModel: {result.saved_model}")
    print(f"next: edgevit export {result.saved_model} --out {args.out}/artifacts --format all")
    return 0
