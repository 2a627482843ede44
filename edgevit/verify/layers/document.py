"""The layer report as JSON (edgevit/schemas/layers-v1.schema.json), and its one-line summaries.

SQNR is a number of dB, or null where the artifact matched the SavedModel exactly (no noise: no finite
ratio), with "exact": true; -inf (NaN in the artifact, or a zero reference) is written as null with
"exact": false.
"""

from __future__ import annotations

import math

from edgevit import __version__
from edgevit.manifest import now_iso
from edgevit.verify.layers.boundaries import BLOCK_LAYER
from edgevit.verify.layers.run import ArtifactLayers, LayersReport

SCHEMA_VERSION = 1
KIND = "layers"


def _sqnr(value: float | None) -> tuple[float | None, bool]:
    if value is None or math.isinf(value):
        return None, value == math.inf
    return round(value, 3), False


def artifact_summary(result: ArtifactLayers, threshold_db: float) -> dict:
    first = result.first_below(threshold_db) if result.status == "ok" else None
    drop = result.largest_drop() if result.status == "ok" else None
    return {
        "first_divergence": None if first is None else {"boundary": first.boundary.name, "block": first.boundary.block,
                                                        "sqnr_db": _sqnr(first.sqnr_db)[0]},
        "largest_drop": None if drop is None else {"block": drop[0], "drop_db": round(drop[1], 3)},
        "missing": [b.boundary.name for b in result.boundaries if b.status == "missing"],
    }


def report_to_dict(report: LayersReport, *, command: str | None = None) -> dict:
    artifacts = []
    for result in report.results:
        rows = []
        for b in result.boundaries:
            sqnr, exact = _sqnr(b.sqnr_db)
            rows.append({"boundary": b.boundary.name, "kind": b.boundary.kind, "block": b.boundary.block, "status": b.status,
                         "graph_node": b.node, "artifact_tensor": b.tensor, "sqnr_db": sqnr, "exact": exact,
                         "cosine": None if b.cosine is None else round(b.cosine, 9),
                         "max_abs_error": b.max_abs_error, "note": b.reason})
        artifacts.append({"name": result.name, "format": result.format, "quantization": result.quantization,
                          "status": result.status, "reason": result.reason, "seconds": round(result.seconds, 3),
                          **artifact_summary(result, report.threshold_db), "boundaries": rows})
    document = {
        "schema_version": SCHEMA_VERSION, "kind": KIND, "created": now_iso(),
        "producer": {"name": "edgevit debug layers", "version": __version__},
        "reference": {"saved_model": str(report.saved_model), "fingerprint": report.fingerprint},
        "data": {"root": str(report.data_root), "split": report.split, "images": report.images},
        "threshold_db": report.threshold_db, "seconds": round(report.seconds, 3), "artifacts": artifacts,
    }
    if command:
        document["command"] = command
    return document


def summary_line(result: ArtifactLayers, threshold_db: float) -> str:
    """One line per artifact: where it first diverges and which block loses the most."""
    if result.status != "ok":
        return f"{result.name}: {result.status} ({result.reason})"
    summary = artifact_summary(result, threshold_db)
    first = summary["first_divergence"]
    text = (f"{result.name}: every boundary at or above {threshold_db:g} dB" if first is None else
            f"{result.name}: first below {threshold_db:g} dB at {first['boundary']} ({first['sqnr_db']} dB)")
    drop = summary["largest_drop"]
    if drop:
        text += f"; largest drop in {BLOCK_LAYER.format(drop['block'])} ({drop['drop_db']:.1f} dB)"
    if summary["missing"]:
        text += f"; {len(summary['missing'])} boundary(ies) missing: {', '.join(summary['missing'][:3])}"
    return text
