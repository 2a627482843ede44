"""What read_manifest, open_artifact and open_source refuse in a manifest and labels.txt: one ModelError line
(exit 4) naming the field or both files, never a TypeError or KeyError (internal error, exit 70)."""

from __future__ import annotations

import json

import pytest

from edgevit.artifact import open_artifact
from edgevit.errors import ModelError
from edgevit.manifest import label_problem, read_manifest
from edgevit.savedmodel.source import open_source

from helpers.bench import write_fake_artifact
from helpers.savedmodel import serving_signature_pb, write_fake_savedmodel
from helpers.verify import edit_manifest

# Every number a stage computes with, as a path into the manifest, and what a wrong value is replaced by.
NUMERIC_FIELDS = {
    "schema_version": ("schema_version",),
    "file_size": ("file_size",),
    "input.shape": ("input", "shape"),
    "input.shape[1]": ("input", "shape", 1),
    "input.shape[3]": ("input", "shape", 3),
    "output.shape": ("output", "shape"),
    "output.shape[1]": ("output", "shape", 1),
    "preprocessing.height": ("preprocessing", "height"),
    "preprocessing.width": ("preprocessing", "width"),
    "preprocessing.mean": ("preprocessing", "mean"),
    "preprocessing.mean[0]": ("preprocessing", "mean", 0),
    "preprocessing.std": ("preprocessing", "std"),
    "preprocessing.std[2]": ("preprocessing", "std", 2),
}
WRONG_VALUES = {"a string": "7", "a float": 7.5, "a bool": True, "null": None, "a nested list": [[1, 2], [3]]}
# A float is a fine mean or std value; every other pair is a wrong number.
FLOATS_ALLOWED = {"preprocessing.mean[0]", "preprocessing.std[2]"}
CASES = [(field, kind) for field in sorted(NUMERIC_FIELDS) for kind in sorted(WRONG_VALUES)
         if not (field in FLOATS_ALLOWED and kind == "a float")]


def _set(manifest: dict, where: tuple, value) -> None:
    *parents, last = where
    for key in parents:
        manifest = manifest[key]
    manifest[last] = value


def _one_model_error(call) -> str:
    with pytest.raises(ModelError) as caught:
        call()
    message = str(caught.value)
    assert caught.value.exit_code == 4 and message and "\n" not in message
    return message


@pytest.mark.parametrize("field, value_kind", CASES)
def test_each_number_of_the_wrong_type_is_one_error_naming_its_field(tmp_path, field, value_kind):
    folder = write_fake_artifact(tmp_path, "art")
    manifest = json.loads((folder / "manifest.json").read_text())
    _set(manifest, NUMERIC_FIELDS[field], WRONG_VALUES[value_kind])
    (folder / "manifest.json").write_text(json.dumps(manifest))
    message = _one_model_error(lambda: open_artifact(folder))
    named = field.split("[")[0]
    assert message.startswith(f"{folder / 'manifest.json'}: '{named}' must be "), message


def test_the_unchanged_fake_artifact_opens(tmp_path):  # (its sha256 is made up: no integrity check)
    assert open_artifact(write_fake_artifact(tmp_path, "art"), check_integrity=False).labels == ["class0", "class1", "class2"]


@pytest.mark.parametrize("label, problem", [
    ("BARN\nOWL", "holds a control character ('\\n')"),
    ("BARN\x00OWL", "holds a control character ('\\x00')"),
    ("BARN\u2029OWL", "holds a paragraph separator ('\\u2029')"),
    ("BARN\udcffOWL", "holds a byte that is not UTF-8 ('\\udcff')"),
    ("", "is empty"),
])
def test_a_label_that_is_not_one_line_of_text_is_refused(tmp_path, label, problem):
    assert label_problem(label) == problem
    folder = write_fake_artifact(tmp_path, "art")
    edit_manifest(folder, labels=["class0", label, "class2"])
    message = _one_model_error(lambda: read_manifest(folder))
    assert message.startswith(f"{folder / 'manifest.json'}: label #1 {label!r} {problem}; ")


def test_plain_unicode_labels_are_fine():
    assert label_problem("ÉMEU À TÊTE ROUGE") is None and label_problem("鶴 (crane)") is None


def test_a_label_count_other_than_the_outputs_is_refused(tmp_path):
    folder = write_fake_artifact(tmp_path, "art")
    edit_manifest(folder, labels=["class0", "class1", "class2", "class3"])
    message = _one_model_error(lambda: open_artifact(folder))
    assert "4 labels but 'output.shape' [null, 3] gives 3 outputs" in message


def test_a_savedmodel_whose_labels_outnumber_its_signature_outputs_is_refused_at_export(tmp_path):
    """The manifest agrees with itself (output.shape says 4), but the graph returns 3 values."""
    folder = write_fake_savedmodel(tmp_path / "sm")
    manifest = json.loads((folder / "manifest.json").read_text())
    edit_manifest(folder, labels=[*manifest["labels"], "class3"], output={**manifest["output"], "shape": [None, 4]})
    (folder / "labels.txt").write_text("\n".join([*manifest["labels"], "class3"]) + "\n")
    message = _one_model_error(lambda: open_source(folder))
    assert message == (f"{folder}: the manifest lists 4 labels, the model returns 3 outputs; "
                       "the labels must name the model's outputs, re-create it with `edgevit train`")
    (folder / "saved_model.pb").write_bytes(serving_signature_pb(num_classes=4))
    assert len(open_source(folder).manifest["labels"]) == 4


@pytest.mark.parametrize("labels_txt, detail", [
    ("class0\nclass1\n", "2 lines, the manifest has 3 labels"),
    ("class0\nclass1\nclass2\nclass3\n", "4 lines, the manifest has 3 labels"),
    ("class0\nclass2\nclass1\n", "line 2 is 'class2', the manifest's label #1 is 'class1'"),
])
def test_labels_txt_that_contradicts_the_manifest_is_refused_for_artifacts_and_savedmodels(tmp_path, labels_txt, detail):
    artifact = write_fake_artifact(tmp_path, "art")
    saved_model = write_fake_savedmodel(tmp_path / "sm")
    for folder, open_it in ((artifact, open_artifact), (saved_model, open_source), (saved_model, open_artifact)):
        (folder / "labels.txt").write_text(labels_txt)
        message = _one_model_error(lambda: open_it(folder))
        assert message == (f"{folder / 'labels.txt'} contradicts {folder / 'manifest.json'} ({detail}); "
                           "re-export (or re-train) to write both again")


def test_labels_txt_with_windows_line_ends_or_absent_is_fine(tmp_path):
    folder = write_fake_artifact(tmp_path, "art")
    (folder / "labels.txt").write_bytes(b"class0\r\nclass1\r\nclass2")
    assert open_artifact(folder, check_integrity=False).labels == ["class0", "class1", "class2"]
    (folder / "labels.txt").unlink()
    assert open_artifact(folder, check_integrity=False).labels == ["class0", "class1", "class2"]


def test_labels_txt_that_is_not_utf8_is_refused(tmp_path):
    folder = write_fake_artifact(tmp_path, "art")
    (folder / "labels.txt").write_bytes(b"class0\n\xffclass1\nclass2\n")
    assert _one_model_error(lambda: open_artifact(folder)) == (
        f"{folder / 'labels.txt'}: not UTF-8 text; re-create it from {folder / 'manifest.json'} with edgevit")
