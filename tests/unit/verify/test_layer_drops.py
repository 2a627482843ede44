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


def test_a_first_block_without_a_measured_input_is_left_out_of_the_report():
    layers = _layers(None, 35.5, 35.0, 34.0)  # a TFLite converter fused the patch embedding away
    assert [b.boundary.block for _, b in layers.block_drops()] == [1, 2]
    assert layers.largest_drop() == (2, 1.0)


def test_the_search_ranks_the_embedding_the_blocks_and_the_head_from_the_exact_input_on():
    layers = _layers(42.0, 34.0, 33.5)
    rows = list(layers.boundaries) + [BoundaryResult(Boundary("Transformer_encoder_norm", "norm"), COMPARED, "n", sqnr_db=33.4),
                                      BoundaryResult(Boundary("head", "head"), COMPARED, "n", sqnr_db=20.0)]
    layers = ArtifactLayers("a", Path("a"), "coreml", "palettize4", "ok", boundaries=tuple(rows))
    drops = [(round(db, 6), b.boundary.name) for db, b in layers.layer_drops()]
    assert drops == [(round(SQNR_CAP_DB - 42.0, 6), "embedding"), (8.0, "Transformer_encoderblock_0"),
                     (0.5, "Transformer_encoderblock_1"), (13.4, "head")]  # the head against the final norm
    fused = _layers(None, 35.5, 35.0)  # no embedding apart: the first block carries all before it
    assert [(round(db, 6), b.boundary.name) for db, b in fused.layer_drops()][0] == (round(SQNR_CAP_DB - 35.5, 6),
                                                                                   "Transformer_encoderblock_0")
