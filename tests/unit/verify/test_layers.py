"""Layer-wise parity (edgevit.verify.layers): the boundaries, the metrics, and a damaged block found in every format."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgevit.errors import UsageError
from edgevit.verify.layers.boundaries import BLOCK, model_boundaries, select
from edgevit.verify.layers.compare import ErrorStats, align


def test_sqnr_cosine_and_max_abs_of_known_noise():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(4, 17, 128)).astype(np.float32)
    noise = 0.01 * rng.normal(size=ref.shape).astype(np.float32)
    stats = ErrorStats()
    stats.add(ref, ref + noise)
    expected = 10 * math.log10(float((ref.astype(np.float64) ** 2).sum()) / float((noise.astype(np.float64) ** 2).sum()))
    assert stats.sqnr_db == pytest.approx(expected, abs=1e-3)
    assert 39 < stats.sqnr_db < 41  # unit signal, noise 1/100: 40 dB
    assert stats.cosine == pytest.approx(1.0, abs=1e-4)
    assert stats.max_abs == pytest.approx(float(np.abs(noise).max()), rel=1e-5)
    exact = ErrorStats()
    exact.add(ref, ref)
    assert exact.sqnr_db == math.inf
    broken = ErrorStats()
    broken.add(ref, np.full_like(ref, np.nan))
    assert broken.sqnr_db == -math.inf and broken.non_finite == ref.size


def test_align_layouts_the_converters_use():
    ref = np.arange(2 * 4 * 4 * 8, dtype=np.float32).reshape(2, 4, 4, 8)
    _, art, note = align(ref, ref.transpose(0, 3, 1, 2))
    assert np.array_equal(art, ref) and "NCHW" in note
    tokens = np.ones((1, 17, 8), np.float32)
    ref_cls, art_cls, note = align(tokens, tokens[:, :1])
    assert ref_cls.shape == (1, 1, 8) and "class token" in note
    with pytest.raises(ValueError, match="does not match"):
        align(tokens, np.ones((1, 5, 8), np.float32))


def test_boundaries_in_model_order_and_unknown_names_refused():
    boundaries = model_boundaries(4)
    assert boundaries[0].name == "embedding" and boundaries[-1].name == "head"
    assert [b.block for b in boundaries if b.kind == BLOCK] == [0, 1, 2, 3]
    assert select(boundaries, ["Transformer_encoderblock_2"])[0].block == 2
    with pytest.raises(UsageError, match="'Transformer_encoderblock_9' is not a boundary of this model; known: embedding"):
        select(boundaries, ["Transformer_encoderblock_9"])
