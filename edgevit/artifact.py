"""Open an artifact folder (or the SavedModel) for a runner: manifest, model path, integrity check.

A corrupted or truncated model file is caught here, before any runtime parses it: the file's sha256
(or, for folder models such as .mlpackage that have no single hash, its total size) must match what
the exporter recorded in manifest.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgevit.config import Preprocessing
from edgevit.errors import ModelError, UsageError
from edgevit.fsutil import folder_size, path_inside, sha256_file
from edgevit.formats import REFERENCE_FORMAT, SavedModelQuantization
from edgevit.manifest import SAVEDMODEL_KIND, check_labels_file, preprocessing_of, read_manifest


@dataclass(frozen=True)
class Artifact:
    folder: Path
    manifest: dict
    format: str  # an edgevit.formats.Format value (savedmodel for the reference)
    quantization: str
    model_path: Path  # the model file or folder (.mlpackage, SavedModel folder)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.folder.name)

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    @property
    def source_fingerprint(self) -> str | None:
        """The fingerprint of the SavedModel it was exported from (None for the SavedModel itself)."""
        return (self.manifest.get("source") or {}).get("fingerprint")

    @property
    def preprocessing(self) -> Preprocessing:
        return preprocessing_of(self.manifest)

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the model's input tensor as the manifest states it."""
        shape = self.manifest["input"].get("shape") or []
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:3]):
            raise ModelError(f"{self.folder}: manifest input shape {shape} is not [N, H, W, 3]; re-export the artifact")
        return int(shape[1]), int(shape[2])


def open_artifact(folder: Path | str, *, check_integrity: bool = True, formats: tuple[str, ...] | None = None,
                  hint: str = "") -> Artifact:
    """Read `folder`'s manifest and locate its model; ModelError says what is wrong and what to do.

    `formats`: the only formats the caller can use (a SavedModel only when it lists "savedmodel");
    any other is a UsageError that names them and says `hint` (where that format goes instead).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{folder}: not an artifact folder; pass a folder written by `edgevit export`")
    manifest = read_manifest(folder)  # also: its numbers typed, its labels one line each and as many as the outputs
    check_labels_file(folder, manifest)
    kind = manifest.get("kind")
    takes_savedmodel = formats is None or REFERENCE_FORMAT in formats
    if kind == SAVEDMODEL_KIND and takes_savedmodel:
        return Artifact(folder, manifest, REFERENCE_FORMAT.value, SavedModelQuantization.FP32.value, folder)
    if kind != "artifact":
        expected = "'artifact' or 'savedmodel'" if takes_savedmodel else "'artifact' (a folder written by `edgevit export`)"
        raise ModelError(f"{folder}: manifest kind is {kind!r}, expected {expected}")
    for key in ("format", "quantization", "file"):
        if not isinstance(manifest.get(key), str):
            raise ModelError(f"{folder}/manifest.json: missing '{key}'; re-export the artifact")
    if formats is not None and manifest["format"] not in formats:
        raise UsageError(f"{folder}: format {manifest['format']!r} cannot go here ({hint}); known: {', '.join(formats)}")
    if path_inside(folder, manifest["file"]) is None:
        raise ModelError(f"{folder}/manifest.json: 'file' {manifest['file']!r} points outside the artifact folder; re-export the artifact")
    model_path = folder / manifest["file"]
    if not model_path.exists():
        raise ModelError(f"{folder}: model file {manifest['file']} is missing; re-export the artifact")
    artifact = Artifact(folder, manifest, manifest["format"], manifest["quantization"], model_path)
    if check_integrity:
        check_integrity_of(artifact)
    return artifact


def check_integrity_of(artifact: Artifact) -> None:
    manifest, path = artifact.manifest, artifact.model_path
    expected_size = manifest.get("file_size")
    if isinstance(expected_size, int):
        size = folder_size(path)
        if size != expected_size:
            raise ModelError(
                f"{path}: {size} bytes on disk, the manifest recorded {expected_size}; the file is corrupted or truncated, re-export it"
            )
    expected_hash = manifest.get("sha256")
    if path.is_file() and isinstance(expected_hash, str):
        actual = sha256_file(path)
        if actual != expected_hash:
            raise ModelError(
                f"{path}: sha256 {actual[:12]}... differs from the manifest's {expected_hash[:12]}...; the file is corrupted, re-export it"
            )
