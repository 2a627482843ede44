"""`edgevit import` (edgevit/savedmodel/importing.py): every form of a Keras classifier becomes the SavedModel
`edgevit train` writes, and what the model cannot say is asked for by name (fast: a small CNN, in process).

The whole pipeline on MobileNetV3Small (import -> export --format all -> verify -> bench) is the slow
tests/integration/test_import_pipeline.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgevit.errors import ModelError, UsageError
from edgevit.savedmodel.importing import PRESETS, ImportOptions, import_model
from helpers import cnn_models

LABELS = ("alpha", "beta", "gamma")
OPTIONS = ImportOptions(labels=LABELS, mean=PRESETS["[0,1]"][0], std=PRESETS["[0,1]"][1])


@pytest.fixture(scope="module")
def small_cnn():
    return cnn_models.small_cnn()


@pytest.fixture(scope="module")
def keras_file(small_cnn, tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / "small.keras"
    small_cnn.save(path)
    return path


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(0).uniform(0, 255, (5, 32, 32, 3)).astype(np.float32)


def _expected(model, pixels):
    return np.asarray(model((pixels - 0.0) / 255.0, training=False))


def _check_run(out, model, pixels, *, form):
    from edgevit.savedmodel.load import LoadedSavedModel
    from edgevit.savedmodel.source import open_source

    source = open_source(out / "saved_model")  # the one check every later command starts with
    assert (source.signature, source.input_name, source.output_name) == ("serving_default", "images", "probabilities")
    manifest = source.manifest
    assert manifest["input"]["shape"] == [None, 32, 32, 3] and manifest["output"]["shape"] == [None, 3]
    assert manifest["labels"] == list(LABELS) and (out / "saved_model" / "labels.txt").read_text() == "alpha\nbeta\ngamma\n"
    assert manifest["preprocessing"]["mean"] == [0.0] * 3 and manifest["preprocessing"]["std"] == [255.0] * 3
    assert manifest["model"]["imported"]["form"] == form and manifest["model"]["num_classes"] == 3
    assert json.loads((out / "import.json").read_text())["source"]["form"] == form
    got = LoadedSavedModel(out / "saved_model").predict(pixels / 255.0)
    np.testing.assert_allclose(got, _expected(model, pixels), rtol=1e-5, atol=1e-6)


def test_keras_file(keras_file, small_cnn, pixels, tmp_path):
    result = import_model(str(keras_file), tmp_path / "run", OPTIONS)
    assert (result.form, result.height, result.width, result.labels) == ("keras-file", 32, 32, LABELS)
    _check_run(tmp_path / "run", small_cnn, pixels, form="keras-file")


def test_keras_export_folder_two_signatures(small_cnn, pixels, tmp_path):
    small_cnn.export(str(tmp_path / "exported"), verbose=False)  # writes `serve` and `serving_default`
    result = import_model(str(tmp_path / "exported"), tmp_path / "run", OPTIONS)
    assert (result.form, result.signature) == ("keras-export", "serving_default")
    _check_run(tmp_path / "run", small_cnn, pixels, form="keras-export")


def test_tf_saved_model_folder_gives_a_tflite_with_embedded_weights(small_cnn, pixels, tmp_path):
    """tf.saved_model.save(keras_model) holds Keras' variable wrappers: converted as is, the .tflite keeps
    READ_VARIABLE / VAR_HANDLE ops. After import the weights are constants in the .tflite."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    tf.saved_model.save(small_cnn, str(tmp_path / "tfsm"))
    import_model(str(tmp_path / "tfsm"), tmp_path / "run", OPTIONS)
    _check_run(tmp_path / "run", small_cnn, pixels, form="tf-savedmodel")
    flatbuffer = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "run" / "saved_model")).convert()
    interpreter = Interpreter(model_content=flatbuffer)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not ops & {"READ_VARIABLE", "VAR_HANDLE", "ASSIGN_VARIABLE"}, ops
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels[:1] / 255.0)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, _expected(small_cnn, pixels[:1]), rtol=1e-4, atol=1e-5)


def test_builder_function_and_softmax_for_logits(pixels, tmp_path):
    spec = "tests/helpers/cnn_models.py:small_cnn_logits"
    with pytest.raises(UsageError, match="not probabilities.*pass --softmax"):
        import_model(spec, tmp_path / "run", OPTIONS)
    result = import_model(spec, tmp_path / "run", ImportOptions(**{**OPTIONS.__dict__, "softmax": True}))
    assert result.form == "builder" and result.softmax_added
    from edgevit.savedmodel.load import LoadedSavedModel

    logits = np.asarray(cnn_models.small_cnn_logits()(pixels / 255.0))
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(LoadedSavedModel(tmp_path / "run" / "saved_model").predict(pixels / 255.0), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(UsageError, match=r"already returns probabilities .*; drop --softmax"):
        import_model("tests/helpers/cnn_models.py:small_cnn", tmp_path / "other", ImportOptions(**{**OPTIONS.__dict__, "softmax": True}))


def test_lambda_layer_needs_allow_unsafe(tmp_path, caplog):
    path = tmp_path / "lambda.keras"
    cnn_models.small_cnn_with_lambda().save(path)
    with pytest.raises(UsageError, match="Lambda layer.*--allow-unsafe.*module:function") as info:
        import_model(str(path), tmp_path / "run", OPTIONS)
    assert "\n" not in str(info.value) and not (tmp_path / "run").exists()
    caplog.set_level("WARNING")
    import_model(str(path), tmp_path / "run", ImportOptions(**{**OPTIONS.__dict__, "allow_unsafe": True}))
    assert any("safe mode off" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("options,message", [
    (ImportOptions(mean=(0.0,) * 3, std=(255.0,) * 3), r"no class names; pass --labels FILE"),
    (ImportOptions(labels=("a", "b"), mean=(0.0,) * 3, std=(255.0,) * 3), r"--labels names 2 classes, the model returns 3"),
    (ImportOptions(labels=LABELS), r"pass --preprocess .* or --mean R,G,B --std R,G,B"),
    (ImportOptions(**{**OPTIONS.__dict__, "image_size": 64}), r"takes 32x32 images; drop --image-size"),
])
def test_missing_or_wrong_information_names_the_flag(keras_file, tmp_path, options, message):
    with pytest.raises(UsageError, match=message) as info:
        import_model(str(keras_file), tmp_path / "run", options)
    assert "\n" not in str(info.value)


def test_cli_one_line_errors_and_output_rule(keras_file, tmp_path, capsys):
    from edgevit.cli import main

    labels = tmp_path / "labels.txt"
    labels.write_text("alpha\nbeta\ngamma\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    cases = [
        (["import", str(keras_file), "--out", str(tmp_path / "a"), "--labels", str(labels)], 2, "--preprocess"),
        (["import", str(tmp_path / "nothing.keras"), "--out", str(tmp_path / "a"), "--labels", str(labels), "--preprocess", "[0,1]"],
         2, "no such file or folder"),
        (["import", str(keras_file), "--out", str(mine), "--labels", str(labels), "--preprocess", "[0,1]"], 2, "did not write"),
        (["import", str(keras_file), "--out", str(tmp_path / "a"), "--labels", str(tmp_path / "none.txt"), "--preprocess", "[0,1]"],
         2, "--labels"),
    ]
    for argv, code, text in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert text in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert (mine / "notes.txt").read_text() == "mine" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    argv = ["import", str(keras_file), "--out", str(tmp_path / "run"), "--labels", str(labels), "--preprocess", "[0,1]"]
    assert main(argv) == 0
    assert "next: edgevit export" in capsys.readouterr().out
    (tmp_path / "run" / "artifacts").mkdir()  # what the user built beside it stays when the model is imported again
    assert main(argv) == 0 and (tmp_path / "run" / "artifacts").is_dir()


def test_not_a_model(tmp_path):
    (tmp_path / "model.h5").write_text("x")
    with pytest.raises(UsageError, match="not a .keras file"):
        import_model(str(tmp_path / "model.h5"), tmp_path / "run", OPTIONS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="without saved_model.pb"):
        import_model(str(tmp_path / "empty"), tmp_path / "run", OPTIONS)
    (tmp_path / "bad.keras").write_text("not a zip")
    with pytest.raises(ModelError, match="Keras cannot load it"):
        import_model(str(tmp_path / "bad.keras"), tmp_path / "run", OPTIONS)


def test_cli_presets_are_the_library_presets():
    from edgevit.commands.import_model import _PRESETS

    assert set(_PRESETS) == set(PRESETS)
