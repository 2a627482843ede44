"""`edgevit weights import`: each library's layout, built small with random weights, against an independent
numpy forward pass of that layout; LayerScale, fused qkv, patch sizes, position resampling, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from helpers.vit_layouts import HALF, IMAGENET, TINY, hf_config, hf_forward, hf_state, timm_forward, timm_state

from edgevit.cli import main
from edgevit.errors import ModelError
from edgevit.weights import import_weights
from edgevit.weights.resample import BICUBIC, BICUBIC_ANTIALIAS, resample_grid

SIZE = 64  # the tiny variant: patch 8 -> an 8x8 grid


@pytest.fixture(scope="module")
def tiny_body():
    """One tiny vit-keras classifier; each test loads its .npz into it and reads the final-LayerNorm tokens."""
    from edgevit.keras_backend import import_keras
    from edgevit.models import ClassifierConfig, build_classifier

    keras = import_keras()
    config = ClassifierConfig(variant="tiny", image_size=SIZE, num_classes=2, noise_stddev=0.0, trainable_blocks=0)
    model = build_classifier(config)
    base = model.get_layer("tiny")
    tokens = keras.Model(base.input, base.get_layer("Transformer_encoder_norm").output)
    return model, config, tokens


def _keras_tokens(tiny_body, npz, pixels):
    from edgevit.config import Preprocessing
    from edgevit.data.preprocess import normalize
    from edgevit.models import load_pretrained_weights

    model, config, tokens = tiny_body
    load_pretrained_weights(model, config, npz)
    return np.asarray(tokens(normalize(pixels, Preprocessing(height=SIZE, width=SIZE))))


def _pixels(n=3, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


def _write_hf(folder, kind, **kw):
    folder.mkdir(parents=True, exist_ok=True)
    state = hf_state(kind, **kw)
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(hf_config(kind, **TINY)))
    return folder / "model.safetensors", state


def _close(got, want):
    scale = np.abs(want).max()
    assert np.abs(got - want).max() <= 1e-4 * scale, (np.abs(got - want).max(), scale)


def test_hf_vit_matches_its_numpy_forward(tmp_path, tiny_body):
    src, state = _write_hf(tmp_path / "vit", "vit", prefix="vit.")  # ViTForImageClassification's prefix is stripped
    arch = import_weights(src, tmp_path / "w.npz")
    assert (arch.variant, arch.patch_size, arch.heads, arch.heads_from, arch.layer_scale) == ("tiny", 8, 4, "the source", False)
    assert arch.source_mean == HALF[0] and "layer_norm_eps 1e-12" in arch.notes[0]
    pixels = _pixels()
    want = hf_forward(hf_state("vit"), "vit", pixels, heads=4, mean_std=HALF, eps=1e-12)
    _close(_keras_tokens(tiny_body, tmp_path / "w.npz", pixels), want)


def test_hf_dinov2_layerscale_folds_exactly(tmp_path, tiny_body):
    src, state = _write_hf(tmp_path / "dino", "dinov2")
    arch = import_weights(src, tmp_path / "w.npz")
    assert arch.layer_scale and arch.source_mean == IMAGENET[0] and arch.pool == "token"
    pixels = _pixels()
    want = hf_forward(state, "dinov2", pixels, heads=4, mean_std=IMAGENET, eps=1e-6)
    got = _keras_tokens(tiny_body, tmp_path / "w.npz", pixels)
    _close(got, want)
    # The same weights without LayerScale give a different answer: the gammas (0.05..2) matter and were folded.
    plain = hf_forward({k: v for k, v in state.items() if "layer_scale" not in k} | {
        k: np.ones_like(v) for k, v in state.items() if "layer_scale" in k}, "dinov2", pixels, heads=4, mean_std=IMAGENET, eps=1e-6)
    assert np.abs(plain - want).max() > 100 * np.abs(got - want).max()


def test_timm_fused_qkv_matches_its_numpy_forward(tmp_path, tiny_body):
    state = timm_state()
    save_file(state, str(tmp_path / "model.safetensors"))
    arch = import_weights(tmp_path / "model.safetensors", tmp_path / "w.npz")
    assert arch.heads == 4 and "tiny" in arch.heads_from and arch.layer_scale
    pixels = _pixels()
    _close(_keras_tokens(tiny_body, tmp_path / "w.npz", pixels), timm_forward(state, pixels, heads=4))


def test_onnx_export_names_recovered_from_nodes(tmp_path):
    """An ONNX export as torch.onnx writes a HF DINOv2: MatMul weights are unnamed initializers found through their
    node names, the position embeddings constant-folded into an unnamed class part and grid part, the attention
    scale d^-1/4 applied to q and k. The import equals the safetensors import of the same weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    state = {f"backbone.{k}": v for k, v in hf_state("dinov2", grid=10).items()}
    inits, nodes = [], []
    for name, value in state.items():
        short = name.removeprefix("backbone.")
        if name.endswith(".weight") and ("attention" in name or ".mlp." in name):
            module = "/" + name.removesuffix(".weight").replace(".", "/").replace("layer/", "layer.")
            unnamed = f"onnx::MatMul_{len(inits)}"
            inits.append(numpy_helper.from_array(value.T.copy(), unnamed))
            nodes.append(helper.make_node("MatMul", ["h", unnamed], [f"{module}/MatMul_output_0"], name=f"{module}/MatMul"))
        elif short == "embeddings.position_embeddings":
            inits.append(numpy_helper.from_array(value[:, :1].copy(), "onnx::Concat_1"))
            inits.append(numpy_helper.from_array(value[:, 1:].copy(), "onnx::Reshape_2"))
            nodes.append(helper.make_node("Reshape", ["onnx::Reshape_2", "shape"], ["r"], name="/backbone/embeddings/Reshape_1"))
            nodes.append(helper.make_node("Concat", ["onnx::Concat_1", "r"], ["c"], name="/backbone/embeddings/Concat_6", axis=1))
        else:
            inits.append(numpy_helper.from_array(value, name))
    nodes.append(helper.make_node("Resize", ["r", "", "", "sizes"], ["rs"], name="/backbone/embeddings/Resize",
                                  mode="cubic", cubic_coeff_a=-0.75, coordinate_transformation_mode="half_pixel"))
    nodes.append(helper.make_node("Constant", [], ["scale"], name="/backbone/encoder/layer.0/attention/attention/Constant_12",
                                  value=numpy_helper.from_array(np.array(32.0 ** -0.25, np.float32))))
    nodes.append(helper.make_node("Mul", ["q", "scale"], ["qs"], name="/backbone/encoder/layer.0/attention/attention/Mul"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("h", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("qs", TensorProto.FLOAT, None)], initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), str(tmp_path / "m.onnx"))

    arch = import_weights(tmp_path / "m.onnx", tmp_path / "from_onnx.npz")
    assert (arch.heads, arch.heads_from, arch.source_grid, arch.grid) == (4, "the source", 10, 8)
    assert arch.interpolation.startswith("bicubic (a=-0.75")
    src, _ = _write_hf(tmp_path / "st", "dinov2", grid=10)
    import_weights(src, tmp_path / "from_st.npz")
    with np.load(tmp_path / "from_onnx.npz") as a, np.load(tmp_path / "from_st.npz") as b:
        weights = [k for k in a.files if k != "edgevit/import"]
        assert sorted(weights) == sorted(k for k in b.files if k != "edgevit/import") and len(weights) == 2 + 1 + 1 + 2 + 4 * 16
        for key in weights:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_patch_14_imports_onto_dinov2_s14(tmp_path):
    """DINOv2's patch 14 at its real width (ViT-S/14): a 37x37 grid resampled to 16x16 for 224 px."""
    shape = dict(patch=14, width=384, depth=12, heads=6, mlp=1536)
    folder = tmp_path / "s14"
    folder.mkdir()
    save_file(hf_state("dinov2", grid=37, **shape), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(hf_config("dinov2", **shape)))
    arch = import_weights(folder / "model.safetensors", tmp_path / "w.npz")
    assert (arch.variant, arch.patch_size, arch.grid, arch.source_grid, arch.image_size) == ("dinov2-s14", 14, 16, 37, 224)
    with np.load(tmp_path / "w.npz") as npz:
        assert npz["embedding/kernel"].shape == (14, 14, 3, 384)
        assert npz["Transformer/posembed_input/pos_embedding"].shape == (1, 257, 384)
        assert json.loads(str(npz["edgevit/import"]))["interpolation"].startswith("bicubic (a=-0.75")


def test_bicubic_resample_equals_onnx_runtime_resize():
    """The HF / DINOv2 interpolation is ONNX Resize cubic (a=-0.75, half_pixel): checked against ONNX Runtime."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    grid = np.random.default_rng(3).standard_normal((37, 37, 5)).astype(np.float32)
    for size in (16, 8, 50):
        node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="cubic", cubic_coeff_a=-0.75,
                                coordinate_transformation_mode="half_pixel")
        graph = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 37, 37])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  initializer=[numpy_helper.from_array(np.array([1, 5, size, size], np.int64), "sizes")])
        session = ort.InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        want = session.run(None, {"x": grid.transpose(2, 0, 1)[None]})[0][0].transpose(1, 2, 0)
        np.testing.assert_allclose(resample_grid(grid, size, BICUBIC), want, atol=2e-5)


def test_timm_resample_is_antialiased_and_recorded(tmp_path):
    grid = np.random.default_rng(4).standard_normal((20, 20, 3)).astype(np.float32)
    aa, plain = resample_grid(grid, 8, BICUBIC_ANTIALIAS), resample_grid(grid, 8, BICUBIC)
    assert aa.shape == plain.shape == (8, 8, 3) and np.abs(aa).std() < np.abs(plain).std()  # antialias smooths noise
    save_file(timm_state(grid=10), str(tmp_path / "m.safetensors"))
    arch = import_weights(tmp_path / "m.safetensors", tmp_path / "w.npz")
    assert "antialias" in arch.interpolation and (arch.source_grid, arch.grid) == (10, 8)


def test_timm_without_class_position_and_mean_pool_config(tmp_path, tiny_body):
    """no_embed_class=True (pos_embed covers the patches only) and a hub config.json with global_pool='avg'."""
    state = timm_state()
    state["pos_embed"] = state["pos_embed"][:, 1:].copy()
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_small_patch8_test", "global_pool": "avg",
                                                      "pretrained_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}))
    arch = import_weights(tmp_path / "model.safetensors", tmp_path / "w.npz")
    assert arch.pool == "mean" and arch.source_mean == (0.5, 0.5, 0.5)
    pixels = _pixels()
    want_state = dict(state, pos_embed=np.concatenate([np.zeros((1, 1, 128), np.float32), state["pos_embed"]], axis=1))
    _close(_keras_tokens(tiny_body, tmp_path / "w.npz", pixels), timm_forward(want_state, pixels, heads=4, mean_std=HALF))


def test_class_token_is_carried(tmp_path):
    src, state = _write_hf(tmp_path / "v", "vit")
    import_weights(src, tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as npz:
        np.testing.assert_array_equal(npz["cls"], state["embeddings.cls_token"])
        np.testing.assert_array_equal(npz["Transformer/posembed_input/pos_embedding"][0, 0],
                                      state["embeddings.position_embeddings"][0, 0])


def test_wrong_grid_or_variant_at_train_time_is_refused(tmp_path, tiny_body):
    from edgevit.models import ClassifierConfig, load_pretrained_weights

    src, _ = _write_hf(tmp_path / "v", "vit")
    import_weights(src, tmp_path / "w.npz", image_size=32)
    model, config, _ = tiny_body
    with pytest.raises(ModelError, match="re-import it with `edgevit weights import --image-size 64`"):
        load_pretrained_weights(model, config, tmp_path / "w.npz")


# ---- bad input: one line, non-zero exit ------------------------------------------------------------------------

def _run(capsys, *argv):
    code = main(["weights", "import", *map(str, argv)])
    err = capsys.readouterr().err.strip()
    return code, err


def _assert_one_line(code, err, *needles):
    assert code != 0 and code != 70, err
    assert len(err.splitlines()) == 1 and err.startswith("edgevit: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def test_truncated_safetensors(tmp_path, capsys):
    src, _ = _write_hf(tmp_path / "v", "vit")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    _assert_one_line(*_run(capsys, src, "--out", tmp_path / "w.npz"), "not a readable safetensors file")
    src.write_bytes(b"\x00" * 64)
    _assert_one_line(*_run(capsys, src, "--out", tmp_path / "w.npz"), "truncated or corrupt")
    assert not (tmp_path / "w.npz").exists()


def test_corrupt_onnx(tmp_path, capsys):
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07garbage\xff\xff\xff" * 10)
    _assert_one_line(*_run(capsys, tmp_path / "m.onnx", "--out", tmp_path / "w.npz"), "not a readable ONNX model")


def test_not_a_vit(tmp_path, capsys):
    save_file({"conv1.weight": np.zeros((8, 3, 3, 3), np.float32), "fc.weight": np.zeros((10, 8), np.float32)},
              str(tmp_path / "resnet.safetensors"))
    _assert_one_line(*_run(capsys, tmp_path / "resnet.safetensors", "--out", tmp_path / "w.npz"), "not a ViT checkpoint", "conv1.weight")


def test_shape_mismatch_with_the_chosen_variant(tmp_path, capsys):
    src, _ = _write_hf(tmp_path / "v", "vit")
    _assert_one_line(*_run(capsys, src, "--out", tmp_path / "w.npz", "--variant", "dinov2-s14"),
                     "does not fit variant dinov2-s14", "found patch 8, width 128, depth 4, heads 4, MLP 256")
    save_file(hf_state("vit", width=96, mlp=192), str(tmp_path / "v" / "model.safetensors"))
    _assert_one_line(*_run(capsys, src, "--out", tmp_path / "w.npz"), "no edgevit variant has these shapes", "width 96")


def test_register_tokens(tmp_path, capsys):
    src, _ = _write_hf(tmp_path / "r", "dinov2")
    (tmp_path / "r" / "config.json").write_text(json.dumps(hf_config("dinov2_with_registers", **TINY) | {"num_register_tokens": 4}))
    _assert_one_line(*_run(capsys, src, "--out", tmp_path / "w.npz"), "register tokens")
    state = timm_state()
    state["reg_token"] = np.zeros((1, 4, 128), np.float32)
    save_file(state, str(tmp_path / "timm_reg.safetensors"))
    _assert_one_line(*_run(capsys, tmp_path / "timm_reg.safetensors", "--out", tmp_path / "w.npz"), "register tokens")


def test_unknown_config_architecture(tmp_path, capsys):
    src, _ = _write_hf(tmp_path / "b", "vit")
    (tmp_path / "b" / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    _assert_one_line(*_run(capsys, src, "--out", tmp_path / "w.npz"), "unknown architecture model_type='bert'")


def test_cli_prints_the_architecture_and_never_replaces_a_user_file(tmp_path, capsys):
    src, _ = _write_hf(tmp_path / "d", "dinov2", grid=10)
    assert main(["weights", "import", str(src), "--out", str(tmp_path / "w.npz")]) == 0
    out = capsys.readouterr().out
    for needle in ("variant: tiny: patch 8, width 128, depth 4, heads 4 (from the source), MLP 256",
                   "tokens: 1 class token + 8x8 patches", "position grid: 10x10 -> 8x8, bicubic",
                   "LayerScale: folded"):
        assert needle in out, out
    assert main(["weights", "import", str(src), "--out", str(tmp_path / "w.npz")]) == 0  # its own file: replaced
    capsys.readouterr()
    (tmp_path / "mine.npz").write_bytes(b"user data")
    _assert_one_line(*_run(capsys, src, "--out", tmp_path / "mine.npz"), "not a weights file written by")
    assert (tmp_path / "mine.npz").read_bytes() == b"user data"


def test_head_pooling_is_read_from_the_source(tmp_path):
    """Dinov2ForImageClassification's classifier reads [class token, mean of patch tokens] (2D inputs); ViT's the token."""
    folder = tmp_path / "cls"
    src, _ = _write_hf(folder, "dinov2")
    state = hf_state("dinov2", prefix="dinov2.")
    state["classifier.weight"], state["classifier.bias"] = np.zeros((5, 256), np.float32), np.zeros(5, np.float32)
    save_file(state, str(src))
    assert import_weights(src, tmp_path / "a.npz").pool == "token+mean"
    src, _ = _write_hf(tmp_path / "vit", "vit")
    assert import_weights(src, tmp_path / "b.npz").pool == "token"
