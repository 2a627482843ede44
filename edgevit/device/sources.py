"""What a device bundle or an iOS sync packs: a checked artifact and golden vectors made for the same model.

Both are refused before anything is written when they cannot be used on a device: a damaged model
file, a file that would lead outside its folder, golden vectors of another model.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edgevit.config import LABELS_NAME, MANIFEST_NAME
from edgevit.portable.errors import HarnessError
from edgevit.portable.golden import GOLDEN_INDEX, Golden, check_matches_manifest, read_golden
from edgevit.errors import DataError, ModelError, UsageError
from edgevit.fsutil import sha256_file
from edgevit.manifest import read_manifest


@dataclass(frozen=True)
class Artifact:
    folder: Path
    manifest: dict

    @property
    def format(self) -> str:
        return str(self.manifest["format"])

    @property
    def quantization(self) -> str:
        return str(self.manifest["quantization"])

    @property
    def source_fingerprint(self) -> str | None:
        return (self.manifest.get("source") or {}).get("fingerprint")


def open_artifact(folder: Path | str, *, formats: tuple[str, ...], hint: str) -> Artifact:
    """Read and check an artifact folder written by `edgevit export`; `hint` says what to do with other formats."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such artifact folder; pass OUT/<name>/ written by `edgevit export`")
    manifest = read_manifest(folder)
    if manifest.get("kind") != "artifact":
        raise ModelError(f"{folder}: manifest kind is {manifest.get('kind')!r}, not 'artifact'; pass a folder written by `edgevit export`")
    for key in ("format", "quantization", "file", "sha256"):
        if key not in manifest:
            raise ModelError(f"{folder / MANIFEST_NAME}: missing {key!r}; export the artifact again")
    if manifest["format"] not in formats:
        raise UsageError(f"{folder}: format {manifest['format']!r} cannot go here ({hint}); known: {', '.join(formats)}")
    model = _inside(folder, str(manifest["file"]))
    if not model.exists():
        raise ModelError(f"{model}: the manifest's model file is missing; export the artifact again")
    if model.is_file() and sha256_file(model) != manifest["sha256"]:
        raise ModelError(f"{model}: sha256 differs from the manifest's; the file is damaged: export the artifact again")
    return Artifact(folder=folder, manifest=manifest)


def _inside(folder: Path, relative: str) -> Path:
    path = (folder / relative).resolve()
    if Path(relative).is_absolute() or folder.resolve() not in path.parents:
        raise ModelError(f"{folder / MANIFEST_NAME}: file {relative!r} is outside the artifact folder; export the artifact again")
    return path


def find_golden(artifact: Artifact, golden: Path | str | None) -> Path:
    """The golden folder given, else ARTIFACT/golden or its parent's golden/ (where `edgevit verify --write-golden` puts them)."""
    if golden is not None:
        candidates = [Path(golden)]
    else:
        candidates = [artifact.folder / "golden", artifact.folder.parent / "golden"]
    for folder in candidates:
        if (folder / GOLDEN_INDEX).is_file():
            return folder
    where = ", ".join(str(c) for c in candidates)
    raise DataError(f"no golden vectors at {where}; write them with `edgevit verify --write-golden` and pass --golden DIR")


def open_golden(folder: Path, artifacts: list[Artifact]) -> Golden:
    """Read the golden vectors and check they were made for these artifacts' model; DataError otherwise."""
    try:
        golden = read_golden(folder)
        for artifact in artifacts:
            check_matches_manifest(golden, artifact.manifest, folder)
    except HarnessError as exc:
        raise DataError(str(exc)) from None
    reference = (golden.index.get("reference") or {}).get("fingerprint")
    for artifact in artifacts:
        if reference and artifact.source_fingerprint and reference != artifact.source_fingerprint:
            raise DataError(f"{folder}: golden vectors come from another SavedModel than {artifact.folder.name} "
                            f"({reference[:12]}... vs {artifact.source_fingerprint[:12]}...); write them again for this model")
    return golden


def copy_artifact(artifact: Artifact, dest: Path) -> None:
    """The model file or folder, manifest.json and labels.txt (plus an ONNX external-data file) into `dest`.

    Every name is checked to stay inside the artifact folder, so nothing is read from or written
    outside the two folders whatever a manifest says.
    """
    dest.mkdir(parents=True, exist_ok=True)
    names = [str(artifact.manifest["file"]), MANIFEST_NAME, LABELS_NAME]
    external = (artifact.manifest.get("conversion") or {}).get("external_data")
    if external:  # ONNX weights above 2 GB live beside the graph
        names.append(str(external))
    for name in names:
        src = _inside(artifact.folder, name)
        target = dest / src.relative_to(artifact.folder.resolve())
        if (artifact.folder / name).is_symlink():
            raise ModelError(f"{artifact.folder / name}: is a symbolic link; a bundle holds regular files only: export the artifact again")
        if src.is_dir():
            _copy_tree(src, target)
        elif src.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
        elif name != LABELS_NAME:
            raise ModelError(f"{src}: missing from the artifact; export it again")


def _copy_tree(src: Path, dest: Path) -> None:
    for path in src.rglob("*"):
        if path.is_symlink():
            raise ModelError(f"{path}: is a symbolic link; a bundle holds regular files only: export the artifact again")
    shutil.copytree(src, dest)


def copy_golden(golden: Golden, folder: Path, dest: Path) -> None:
    """golden.json and exactly the two data files it names."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (GOLDEN_INDEX, golden.index["inputs_file"], golden.index["outputs_file"]):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / name, dest / name)
