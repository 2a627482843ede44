"""Which block loses the most SQNR: against the previous compared boundary, and what a block without one gets."""

from __future__ import annotations

from pathlib import Path

from edgevit.verify.layers.boundaries import Boundary
from edgevit.verify.layers.compare import SQNR_CAP_DB
from edgevit.verify.layers.run import COMPARED, MISSING, ArtifactLayers, BoundaryResult


def _layers(embedding_db: float | None, *blocks_db: float | None) -> ArtifactLayers:
    rows = [BoundaryResult(Boundary("embedding", "embedding"), MISSING if embedding_db is None else COMPARED, "n",
                           sqnr_db=embedding_db)]
    for i, db in enumerate(blocks_db):
        rows.append(BoundaryResult(Boundary(f"Transformer_encoderblock_{i}/MlpBlock_3", "mlp", i), COMPARED, "n", sqnr_db=50.0))
        rows.append(BoundaryResult(Boundary(f"Transformer_encoderblock_{i}", "block", i), MISSING if db is None else COMPARED,
                                   "n", sqnr_db=db))
    return ArtifactLayers("a", Path("a"), "tflite", "dynamic", "ok", boundaries=tuple(rows))


def test_each_block_is_held_against_the_previous_compared_boundary_of_the_chain():
    layers = _layers(45.0, 40.0, 39.0, None, 30.0)  # block 2's output missing: block 3 against block 1's
    drops = [(round(db, 6), b.boundary.block) for db, b in layers.block_drops()]
    assert drops == [(5.0, 0), (1.0, 1), (9.0, 3)]  # attention and MLP boundaries are not links of the chain
    assert layers.largest_drop() == (3, 9.0)


def test_a_first_block_without_a_measured_input_is_left_out_of_the_report_and_ranked_from_the_exact_input():
    layers = _layers(None, 35.5, 35.0, 34.0)  # a TFLite converter fused the patch embedding away
    assert [b.boundary.block for _, b in layers.block_drops()] == [1, 2]
    assert layers.largest_drop() == (2, 1.0)
    from_input = layers.block_drops(from_input=True)
    assert [(round(db, 6), b.boundary.block) for db, b in from_input][0] == (round(SQNR_CAP_DB - 35.5, 6), 0)
