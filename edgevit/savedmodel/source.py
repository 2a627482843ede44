"""The one way to open a SavedModel: check its folder without TensorFlow, and name it by THE fingerprint.

Every consumer (export, verify, bench, the TensorFlow load) starts here, so a folder that is not a
SavedModel written by edgevit is refused with the same one-line ModelError everywhere, and the
fingerprint that links artifacts, verify records, golden vectors and bench rows to their SavedModel
is computed by one function.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from edgevit.artifact import Artifact, open_artifact
from edgevit.errors import ModelError
from edgevit.fsutil import sha256_file
from edgevit.manifest import SAVEDMODEL_KIND, check_labels_file, read_manifest
from edgevit.savedmodel.signature import read_serving_signature

# The graph and the variables index (which holds a checksum of every weight): together they name the model.
FINGERPRINTED_FILES = ("saved_model.pb", "variables/variables.index")


def savedmodel_fingerprint(folder: Path) -> str:
    """sha256 over the sha256s of FINGERPRINTED_FILES, in that order."""
    digest = hashlib.sha256()
    for rel in FINGERPRINTED_FILES:
        digest.update(sha256_file(Path(folder) / rel).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class SavedModelSource:
    """A checked SavedModel folder, what its manifest says about it, and its one serving signature."""

    folder: Path
    manifest: dict
    signature: str  # e.g. "serving_default"
    input_name: str  # the signature's input key, e.g. "images"
    output_name: str  # the signature's output key, e.g. "probabilities"
    input_shape: tuple  # (None, H, W, 3)

    @property
    def fingerprint(self) -> str:
        return savedmodel_fingerprint(self.folder)

    def artifact(self) -> Artifact:
        """The SavedModel as the reference artifact that runners open (format "savedmodel")."""
        return open_artifact(self.folder)


def open_source(saved_model: Path | str) -> SavedModelSource:
    """Check the folder, its manifest and its serving signature; ModelError (one line) otherwise."""
    folder = Path(saved_model)
    if not folder.is_dir() or not (folder / "saved_model.pb").is_file():
        raise ModelError(f"{folder}: not a SavedModel folder (no saved_model.pb); pass the saved_model/ that `edgevit train` wrote")
    if not (folder / "variables" / "variables.index").is_file():
        raise ModelError(f"{folder}: SavedModel without variables/variables.index; re-save it with `edgevit train`")
    manifest = read_manifest(folder)
    if manifest.get("kind") != SAVEDMODEL_KIND:
        raise ModelError(f"{folder}: manifest kind is {manifest.get('kind')!r}, expected 'savedmodel'")
    serving = read_serving_signature(folder)
    declared = list(manifest["input"].get("shape", []))[1:3]
    if declared != list(serving.input_shape[1:3]):
        raise ModelError(f"{folder}: manifest input size {declared} differs from the signature's {list(serving.input_shape[1:3])}; "
                         "re-create it with edgevit")
    labels = len(manifest["labels"])
    if serving.num_outputs is not None and serving.num_outputs != labels:
        raise ModelError(f"{folder}: the manifest lists {labels} labels, the model returns {serving.num_outputs} outputs; "
                         "the labels must name the model's outputs, re-create it with `edgevit train`")
    check_labels_file(folder, manifest)
    return SavedModelSource(folder, manifest, serving.key, serving.input_name, serving.output_name, serving.input_shape)
