"""`edgevit debug layers`: where inside the model each artifact starts to differ from its SavedModel.

Why a command of its own and not `edgevit verify --layers`: verify answers "does it pass its gate" on
the whole split, fast, with its exit code as the answer. Layer-wise parity runs every artifact op by op
with its intermediate tensors kept (LiteRT's preserve-all-tensors, an ONNX copy with extra outputs, the
MIL interpreter), on a handful of images, and writes a report folder of its own; it is the step after a
failed verify, and its exit code says whether it could diagnose, not whether the artifact passed.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path


def register(subparsers) -> None:
    debug = subparsers.add_parser("debug", help="diagnose an artifact that fails parity: which layer diverges first")
    commands = debug.add_subparsers(dest="debug_command", required=True, parser_class=type(debug))
    p = commands.add_parser(
        "layers", help="compare every named layer boundary of each artifact with the SavedModel (SQNR, cosine, max abs error)",
        description="For each artifact, compare the tensors at every named boundary of the source Keras model (patch "
        "embedding, each block's attention, MLP and output, final LayerNorm, head logits) with the SavedModel's on "
        "labelled images; name the first boundary below the SQNR threshold and the block with the largest drop.",
    )
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACTS_DIR_OR_ARTIFACT",
                   help="artifact folders, or folders of them (the --out of `edgevit export`)")
    p.add_argument("--out", required=True, help="report folder to write: layers.json, layers.md, layers.html")
    p.add_argument("--saved-model", help="the reference SavedModel (default: the source recorded in the artifacts' manifests)")
    p.add_argument("--data", help="data folder ROOT/<split>/<CLASS>/ (default: the data set recorded in the SavedModel's manifest)")
    p.add_argument("--split", default="test", help="split to take the images from (default %(default)s)")
    p.add_argument("--images", type=int, default=None, help="images, spread evenly over the split (default 16)")
    p.add_argument("--threshold", type=float, default=None, help="SQNR (dB) below which a boundary diverges (default 30)")
    p.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="only this boundary (Keras layer path, e.g. Transformer_encoderblock_3); repeatable")
    p.set_defaults(func=cmd_debug_layers)


def cmd_debug_layers(args: argparse.Namespace) -> int:
    from edgevit.errors import UsageError
    from edgevit.fsutil import atomic_write_json, atomic_write_text
    from edgevit.outputs import LAYERS_HTML, LAYERS_INDEX, LAYERS_MARKDOWN, LAYERS_REPORT, Output, artifact_inputs, check_outputs, replace_dir
    from edgevit.report.layers import render_html, render_markdown
    from edgevit.verify.layers.document import report_to_dict, summary_line
    from edgevit.verify.layers.run import DEFAULT_IMAGES, DEFAULT_THRESHOLD_DB, layer_parity

    threshold = DEFAULT_THRESHOLD_DB if args.threshold is None else args.threshold
    if not -1000 < threshold < 1000:
        raise UsageError(f"--threshold is an SQNR in dB, e.g. 30; got {threshold}")
    inputs = [*artifact_inputs(args.artifacts), args.saved_model, args.data]
    check_outputs([Output("--out", args.out, LAYERS_REPORT)], inputs=inputs)
    report = layer_parity(args.artifacts, saved_model=args.saved_model, data=args.data, split=args.split,
                          max_images=DEFAULT_IMAGES if args.images is None else args.images, threshold_db=threshold,
                          layers=args.layers)
    document = report_to_dict(report, command="edgevit " + shlex.join(args.argv))
    with replace_dir(args.out, LAYERS_REPORT, flag="--out", inputs=inputs) as tmp:
        atomic_write_json(tmp / LAYERS_INDEX, document)
        atomic_write_text(tmp / LAYERS_MARKDOWN, render_markdown(document))
        atomic_write_text(tmp / LAYERS_HTML, render_html(document))
    for result in report.results:
        print(summary_line(result, threshold))
    print(f"layer report: {Path(args.out) / LAYERS_MARKDOWN} ({report.images} images, {report.seconds:.1f} s)")
    if all(r.status != "ok" for r in report.results):
        from edgevit.errors import ModelError

        raise ModelError(f"no artifact could be compared: {report.results[0].name}: {report.results[0].reason}")
    return 0
