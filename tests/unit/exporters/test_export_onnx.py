"""ONNX export of the tiny model: onnx.checker passes, ONNX Runtime runs every option close to the
SavedModel with a dynamic batch, opsets 13-18 are honoured, and int8-dynamic says it is the riskiest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.exports import TOLERANCES, compare, logged_lines, read_json

from edgevit.errors import UsageError
from edgevit.exporters import export
from edgevit.fsutil import sha256_file

QUANTIZATIONS = ("fp32", "fp16", "int8-dynamic", "int8-weights", "int4-weights")


@pytest.fixture(scope="module")
def reference(tiny_reference):
    return tiny_reference


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """{quantization: folder} plus the lines each export logged."""
    out = tmp_path_factory.mktemp("onnx")
    folders, printed = {}, {}
    for quantization in QUANTIZATIONS:
        with logged_lines("edgevit.exporters.onnx") as lines:
            folders[quantization] = export("onnx", saved_model=tiny_run.saved_model, out_dir=out, quantization=quantization)
        printed[quantization] = "\n".join(lines)
    return folders, printed


def run_ort(folder: Path, images: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    manifest = read_json(folder / "manifest.json")
    session = ort.InferenceSession(str(folder / manifest["file"]), providers=["CPUExecutionProvider"])
    return session.run([manifest["output"]["name"]], {manifest["input"]["name"]: images})[0]


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_onnxruntime_output_matches_savedmodel_within_the_options_tolerance(exported, reference, quantization):
    folders, _ = exported
    error, agreement = compare(run_ort(folders[quantization], reference.images), reference)
    tolerance = TOLERANCES[("onnx", quantization)]
    assert error <= tolerance.max_abs_error, f"{quantization}: max abs error {error}"
    assert agreement >= tolerance.min_agreement, f"{quantization}: top-1 agreement {agreement}"


def test_checker_passes_and_batch_is_dynamic(exported, reference):
    import onnx

    folders, _ = exported
    for quantization, folder in folders.items():
        path = folder / "model.onnx"
        onnx.checker.check_model(str(path))
        model = onnx.load(str(path))
        assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
        assert [i.name for i in model.graph.input] == ["images"] and [o.name for o in model.graph.output] == ["probabilities"]
    one = run_ort(folders["fp32"], reference.images[:1])
    seven = run_ort(folders["fp32"], reference.images[:7])
    assert one.shape == (1, len(reference.labels)) and seven.shape == (7, len(reference.labels))
    np.testing.assert_allclose(one[0], seven[0], atol=1e-6)


def test_manifest_describes_each_file(exported, tiny_run):
    folders, _ = exported
    source = read_json(tiny_run.saved_model / "manifest.json")
    for quantization, folder in folders.items():
        manifest = read_json(folder / "manifest.json")
        assert manifest["format"] == "onnx" and manifest["quantization"] == quantization
        assert manifest["sha256"] == sha256_file(folder / "model.onnx")
        assert manifest["labels"] == source["labels"] and manifest["conversion"]["opset"] == 17
        assert manifest["input"]["shape"] == [None, *source["input"]["shape"][1:]]
        assert manifest["conversion"]["parity_risk"].split(":")[0] == {"fp32": "lowest", "fp16": "low", "int8-dynamic": "highest",
                                                                        "int8-weights": "low", "int4-weights": "high"}[quantization]
    ops = {q: read_json(f / "manifest.json")["conversion"]["op_types"] for q, f in folders.items()}
    assert "Erfc" not in ops["fp32"] and "Erf" in ops["fp32"]  # exact GELU, rewritten for tf2onnx
    assert "DynamicQuantizeLinear" in ops["int8-dynamic"] and "MatMulInteger" in ops["int8-dynamic"]
    assert "Cast" in ops["fp16"]  # float32 in, fp16 inside, float32 out
    for weights in ("int8-weights", "int4-weights"):  # weight-only: MatMulNBits, no activation quantization
        assert "MatMulNBits" in ops[weights] and "DynamicQuantizeLinear" not in ops[weights]


def test_int8_dynamic_says_it_is_the_riskiest_for_parity(exported):
    _, printed = exported
    assert "riskiest option for parity" in printed["int8-dynamic"]
    assert "riskiest" not in printed["fp32"] + printed["fp16"] + printed["int8-weights"]
    assert "4-bit weights lose the most" in printed["int4-weights"]


@pytest.mark.parametrize("opset", [13, 18])
def test_opset_range_ends_convert_and_run(tiny_run, reference, tmp_path, opset):
    import onnx

    folder = export("onnx", saved_model=tiny_run.saved_model, out_dir=tmp_path, opset=opset)
    model = onnx.load(str(folder / "model.onnx"))
    assert {o.domain: o.version for o in model.opset_import}[""] == opset
    error, agreement = compare(run_ort(folder, reference.images), reference)
    assert error <= TOLERANCES[("onnx", "fp32")].max_abs_error and agreement == 1.0


@pytest.mark.parametrize("options", [{"opset": 19}, {"opset": 12}, {"quantization": "int4"}, {"precision": "fp16"}])
def test_bad_options_are_refused_before_any_work(tiny_run, tmp_path, options):
    with pytest.raises(UsageError):
        export("onnx", saved_model=tiny_run.saved_model, out_dir=tmp_path, **options)
    assert not tmp_path.joinpath("onnx-fp32").exists()
