"""`edgevit savedmodel RUN_DIR`: the TensorFlow step of a run trained with JAX or torch."""

from __future__ import annotations

import argparse

from edgevit.formats import Format


def register(subparsers) -> None:
    p = subparsers.add_parser(
        Format.SAVEDMODEL.value,  # the command is named after the format it writes
        help="write RUN_DIR/saved_model from a run trained on the jax or torch backend (needs TensorFlow)",
        description="Rebuild the model from RUN_DIR/savedmodel.pending.json, load checkpoints/best.weights.h5 and write "
        "RUN_DIR/saved_model with its manifest, as `edgevit train` does on the TensorFlow backend. Overwrites an existing "
        "RUN_DIR/saved_model only with --overwrite.",
    )
    p.add_argument("run_dir", help="the --out folder of `edgevit train --backend jax|torch`")
    p.add_argument("--overwrite", action="store_true", help="replace an existing RUN_DIR/saved_model")
    p.set_defaults(func=cmd_savedmodel)


def cmd_savedmodel(args: argparse.Namespace) -> int:
    from edgevit.savedmodel.deferred import export_run

    folder = export_run(args.run_dir, overwrite=args.overwrite)
    print(f"SavedModel: {folder}")
    return 0
