"""open_source, the one way a SavedModel is opened: what it reads from saved_model.pb, THE fingerprint, and each refusal."""

from __future__ import annotations

import hashlib
import json

import pytest

from edgevit.errors import ModelError
from edgevit.savedmodel.source import open_source, savedmodel_fingerprint

from helpers.savedmodel import serving_signature_pb, write_fake_savedmodel


def test_the_signature_is_read_from_the_protobuf(tmp_path):
    source = open_source(write_fake_savedmodel(tmp_path / "sm", pb=serving_signature_pb(height=8, width=8, num_classes=3)))
    assert (source.signature, source.input_name, source.output_name) == ("serving_default", "images", "probabilities")
    assert source.input_shape == (None, 8, 8, 3)
    assert source.manifest["kind"] == "savedmodel"


def test_the_fingerprint_is_the_sha256_of_the_graph_and_variables_index_sha256s(tmp_path):
    folder = write_fake_savedmodel(tmp_path / "sm")
    pb_sha = hashlib.sha256((folder / "saved_model.pb").read_bytes()).hexdigest()
    index_sha = hashlib.sha256(b"index").hexdigest()
    expected = hashlib.sha256((pb_sha + index_sha).encode()).hexdigest()
    assert open_source(folder).fingerprint == savedmodel_fingerprint(folder) == expected
    (folder / "variables" / "variables.index").write_bytes(b"other weights")
    assert savedmodel_fingerprint(folder) != expected


def test_the_source_as_an_artifact_is_the_reference_runners_open(tmp_path):
    folder = write_fake_savedmodel(tmp_path / "sm")
    artifact = open_source(folder).artifact()
    assert (artifact.format, artifact.quantization, artifact.model_path, artifact.folder) == ("savedmodel", "fp32", folder, folder)


def _edit_manifest(folder, **changes):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "saved_model.pb").unlink(), "not a SavedModel folder (no saved_model.pb)"),
    (lambda f: (f / "variables" / "variables.index").unlink(), "SavedModel without variables/variables.index"),
    (lambda f: _edit_manifest(f, kind="artifact"), "manifest kind is 'artifact', expected 'savedmodel'"),
    (lambda f: (f / "saved_model.pb").write_bytes(b"\xff"), "saved_model.pb: not a SavedModel protobuf"),
    (lambda f: (f / "saved_model.pb").write_bytes(serving_signature_pb(height=-1)), "not a fixed (batch, H, W, 3) size"),
    (lambda f: (f / "saved_model.pb").write_bytes(serving_signature_pb(height=16, width=16)),
     r"manifest input size [8, 8] differs from the signature's [16, 16]"),
])
def test_each_refusal_is_one_model_error(tmp_path, damage, message):
    folder = write_fake_savedmodel(tmp_path / "sm")
    damage(folder)
    with pytest.raises(ModelError) as caught:
        open_source(folder)
    assert message in str(caught.value) and "\n" not in str(caught.value)
