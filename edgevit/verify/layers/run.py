"""Layer-wise parity of artifacts against their SavedModel (see edgevit/verify/layers/__init__.py).

Each artifact ends "compared" (every boundary it holds measured; boundaries it lacks are listed as
missing with the reason, never dropped) or "failed to load" (verification continues with the next).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from edgevit.errors import EdgeVitError, ModelError, UsageError
from edgevit.fsutil import load_json
from edgevit.config import MANIFEST_NAME
from edgevit.runners import open_artifact
from edgevit.verify.evalset import load_eval_set, resolve_data_root
from edgevit.verify.layers.boundaries import BLOCK, EMBEDDING, HEAD, NORM, Boundary, locate, model_boundaries, select
from edgevit.verify.layers.compare import SQNR_CAP_DB, ErrorStats, align, capped

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD_DB = 30.0
DEFAULT_IMAGES = 16
COMPARED, MISSING = "compared", "missing"
OK, FAILED_TO_LOAD = "ok", "failed to load"


@dataclass(frozen=True)
class BoundaryResult:
    boundary: Boundary
    status: str  # compared | missing
    node: str | None  # the serving-graph node of the boundary
    tensor: str | None = None  # the artifact's own name for it
    sqnr_db: float | None = None  # +inf: exact
    cosine: float | None = None
    max_abs_error: float | None = None
    reason: str | None = None  # why missing, or what was aligned


@dataclass(frozen=True)
class ArtifactLayers:
    name: str
    folder: Path
    format: str | None
    quantization: str | None
    status: str  # ok | failed to load
    reason: str | None = None
    boundaries: tuple[BoundaryResult, ...] = ()
    seconds: float = 0.0

    def first_below(self, threshold_db: float) -> BoundaryResult | None:
        """The first boundary, in model order, whose SQNR is below the threshold."""
        return next((b for b in self.boundaries if b.status == COMPARED and b.sqnr_db < threshold_db), None)

    def block_drops(self) -> list[tuple[float, BoundaryResult]]:
        """(dB, the block's output) for each compared transformer block, in model order: the SQNR its output loses
        against its input, the previous compared boundary of the chain (block output or patch embedding), SQNR capped
        at compare.SQNR_CAP_DB. A block with no compared boundary before it has no measured input: left out."""
        return [(drop, b) for drop, b in self._chain_drops((EMBEDDING, BLOCK), from_input=False) if b.boundary.kind == BLOCK]

    def layer_drops(self) -> list[tuple[float, BoundaryResult]]:
        """(dB, boundary) for each compared layer that holds weights a quantized mode compresses: the patch embedding,
        each block and the head, in model order, each against the previous compared boundary (the final norm's
        before the head); the first one against the exact model input (the cap), so it carries all before it."""
        return [(drop, b) for drop, b in self._chain_drops((EMBEDDING, BLOCK, NORM, HEAD), from_input=True)
                if b.boundary.kind != NORM]

    def _chain_drops(self, kinds: tuple[str, ...], *, from_input: bool) -> list[tuple[float, BoundaryResult]]:
        chain = [b for b in self.boundaries if b.status == COMPARED and b.boundary.kind in kinds]
        drops, before = [], SQNR_CAP_DB if from_input else None
        for boundary in chain:
            if before is not None:
                drops.append((before - capped(boundary.sqnr_db), boundary))
            before = capped(boundary.sqnr_db)
        return drops

    def largest_drop(self) -> tuple[int, float] | None:
        """(block, dB): the transformer block whose output loses the most SQNR against its measured input (block_drops)."""
        drops = [(drop, b.boundary.block) for drop, b in self.block_drops()]
        if not drops:
            return None
        drop, block = max(drops)
        return (block, drop) if drop > 0 else None


@dataclass(frozen=True)
class LayersReport:
    saved_model: Path
    fingerprint: str
    data_root: Path
    split: str
    images: int
    threshold_db: float
    results: tuple[ArtifactLayers, ...]
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)


def _source_of(folders: list[Path], saved_model) -> Path:
    """--saved-model, else the SavedModel the manifests record: it must still be there (one clear line if not)."""
    from edgevit.verify.run import resolve_saved_model

    path = resolve_saved_model(folders, saved_model)
    if saved_model is None and not path.is_dir():
        raise UsageError(f"the source model recorded in the artifacts' manifests, {path}, is not reachable; "
                         "layer-wise parity needs it: pass --saved-model PATH")
    return path


def layer_parity(
    artifacts: Iterable[Path | str],
    *,
    saved_model: Path | str | None = None,
    data: Path | str | None = None,
    split: str = "test",
    max_images: int = DEFAULT_IMAGES,
    threshold_db: float = DEFAULT_THRESHOLD_DB,
    layers: list[str] | None = None,
) -> LayersReport:
    from edgevit.savedmodel.graph import load_serving_graph
    from edgevit.savedmodel.source import open_source
    from edgevit.verify.layers.reference import ReferenceGraph
    from edgevit.verify.run import collect_artifact_folders

    started = time.perf_counter()
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1:
        raise UsageError(f"--images must be a positive integer, got {max_images!r}")
    folders = collect_artifact_folders(artifacts)
    source = open_source(_source_of(folders, saved_model))
    config = source.manifest.get("model") or {}
    from edgevit.models import resolve_variant

    try:
        num_layers = resolve_variant(config["variant"]).num_layers
    except (KeyError, TypeError, UsageError):
        raise ModelError(f"{source.folder}: its manifest names no known ViT variant; layer-wise parity knows vit-keras models only") from None
    boundaries = select(model_boundaries(num_layers), layers)
    reference = source.artifact()
    root = resolve_data_root(reference, data)
    evalset = load_eval_set(root, split, reference.labels, max_images=max_images)
    images = evalset.inputs(reference.preprocessing, 0, len(evalset.paths))

    graph = load_serving_graph(source)
    nodes = locate(graph.graph_def, boundaries)
    found_nodes = [n for n in nodes.values() if n is not None]
    ref_graph = ReferenceGraph(graph)
    try:
        ref_values = ref_graph.run(images, found_nodes)
    finally:
        ref_graph.close()
    del graph
    logger.info(f"reference: {source.folder}, {len(found_nodes)} of {len(boundaries)} boundaries found, {len(images)} images")

    results = []
    for folder in folders:
        logger.info(f"layers of {folder.name} ...")
        results.append(_one_artifact(folder, boundaries, nodes, ref_values, evalset, reference, source.fingerprint))
    return LayersReport(source.folder, source.fingerprint, root, split, len(images), threshold_db, tuple(results),
                        time.perf_counter() - started)


def _one_artifact(folder: Path, boundaries, nodes, ref_values, evalset, reference, fingerprint) -> ArtifactLayers:
    from edgevit.verify.layers.capture import open_capture
    from edgevit.verify.run import _pre_checks

    started = time.perf_counter()
    try:
        artifact = open_artifact(folder)
    except EdgeVitError as exc:
        return ArtifactLayers(folder.name, folder, None, None, FAILED_TO_LOAD, str(exc))
    base = dict(name=artifact.name, folder=folder, format=artifact.format, quantization=artifact.quantization)
    wanted = [n for n in nodes.values() if n is not None]
    capture = None
    try:
        _pre_checks(artifact, reference, fingerprint)
        capture = open_capture(artifact, wanted)
        stats = {node: ErrorStats() for node in capture.found}
        notes: dict[str, str] = {}
        bad: dict[str, str] = {}
        images = evalset.inputs(artifact.preprocessing, 0, len(evalset.paths))
        for i in range(len(images)):
            values = capture.run(images[i : i + 1])
            for node, value in values.items():
                if node in bad:
                    continue
                try:
                    ref, art, note = align(ref_values[node][i : i + 1], value)
                except ValueError as exc:
                    bad[node] = str(exc)
                    continue
                if note:
                    notes[node] = note
                stats[node].add(ref, art)
    except EdgeVitError as exc:
        return ArtifactLayers(**base, status=FAILED_TO_LOAD, reason=str(exc))
    except Exception as exc:  # a runtime crashing on the model (ORT/LiteRT raise their own types)
        from edgevit.runners.batching import first_line

        return ArtifactLayers(**base, status=FAILED_TO_LOAD, reason=f"{type(exc).__name__} while running it: {first_line(exc)}")
    finally:
        if capture is not None:
            capture.close()
    rows = []
    for boundary in boundaries:
        node = nodes[boundary.name]
        if node is None:
            rows.append(BoundaryResult(boundary, MISSING, None, reason="not found in the SavedModel's serving graph"))
        elif node not in capture.found:
            rows.append(BoundaryResult(boundary, MISSING, node, reason=f"no tensor of {artifact.format} named after {node}"))
        elif node in bad:
            rows.append(BoundaryResult(boundary, MISSING, node, capture.found[node], reason=bad[node]))
        else:
            s = stats[node]
            rows.append(BoundaryResult(boundary, COMPARED, node, capture.found[node], sqnr_db=s.sqnr_db, cosine=s.cosine,
                                       max_abs_error=s.max_abs, reason=notes.get(node)))
    return ArtifactLayers(**base, status=OK, boundaries=tuple(rows), seconds=time.perf_counter() - started)
