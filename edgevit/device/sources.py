"""What a device bundle or an iOS sync packs: a checked artifact and golden vectors made for the same model.

Both are refused before anything is written when they cannot be used on a device: a damaged model
file, a file that would lead outside its folder, golden vectors of another model. The artifact is
edgevit.artifact's (with its integrity check); the golden vectors are read by the device harness's
own reader (edgevit.portable.golden), so the host refuses exactly what the device would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from edgevit.artifact import Artifact, open_artifact
from edgevit.config import LABELS_NAME, MANIFEST_NAME
from edgevit.errors import DataError, ModelError, UsageError
from edgevit.fsutil import path_inside
from edgevit.portable.errors import HarnessError
from edgevit.portable.golden import GOLDEN_INDEX, Golden, check_matches_manifest, read_golden


def open_device_artifact(folder: Path | str, *, formats: tuple[str, ...], hint: str) -> Artifact:
    """An artifact folder written by `edgevit export` in one of `formats`; `hint` says what to do with other formats."""
    if not Path(folder).is_dir():
        raise UsageError(f"{folder}: no such artifact folder; pass OUT/<name>/ written by `edgevit export`")
    artifact = open_artifact(folder, formats=formats, hint=hint)
    # The device harness checks the model against this key before it runs anything.
    if "sha256" not in artifact.manifest:
        raise ModelError(f"{artifact.folder / MANIFEST_NAME}: missing 'sha256'; export the artifact again")
    return artifact


def _inside(artifact: Artifact, name: str) -> Path:
    """A file the artifact names, strictly inside its folder (never the folder itself)."""
    path = path_inside(artifact.folder, name)
    if path is None or path == artifact.folder.resolve():
        raise ModelError(f"{artifact.folder / MANIFEST_NAME}: file {name!r} is outside the artifact folder; export the artifact again")
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
    reference = golden.reference.get("fingerprint")
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
        src = _inside(artifact, name)
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
