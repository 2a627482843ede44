"""The common layout of bird data sets (Kaggle BIRDS 525): ROOT/{train,valid,test}/<CLASS>/*.jpg."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgevit.config import IMAGE_EXTENSIONS, SPLITS
from edgevit.errors import DataError
from edgevit.manifest import label_problem

# Files that image tools and OSes drop into folders; never data.
_IGNORED_NAMES = {"Thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class Split:
    name: str
    paths: tuple[Path, ...]
    labels: np.ndarray  # int32 class index per path

    def __len__(self) -> int:
        return len(self.paths)


@dataclass(frozen=True)
class ImageFolders:
    root: Path
    class_names: tuple[str, ...]
    splits: dict[str, Split]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise DataError(f"{self.root}: no '{name}' split was loaded (have: {', '.join(self.splits)})")
        return self.splits[name]

    def counts(self) -> dict[str, int]:
        return {name: len(split) for name, split in self.splits.items()}


def _visible_entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return sorted((e for e in it if not e.name.startswith(".") and e.name not in _IGNORED_NAMES), key=lambda e: e.name)
    except PermissionError:
        raise DataError(f"{folder}: permission denied; make it readable") from None
    except NotADirectoryError:
        raise DataError(f"{folder}: expected a folder, found a file") from None


def _is_dir(entry: os.DirEntry) -> bool:
    """entry.is_dir(), but a symlink loop or a vanished entry is a DataError, not an OSError."""
    try:
        return entry.is_dir()
    except OSError as exc:
        raise DataError(f"{entry.path}: cannot be read ({exc.strerror}); fix or remove this entry") from None


def _class_folders(split_dir: Path) -> dict[str, Path]:
    classes: dict[str, Path] = {}
    for entry in _visible_entries(split_dir):
        if not _is_dir(entry):
            raise DataError(
                f"{entry.path}: expected only class folders in {split_dir}, found a file; move it into a class folder or remove it"
            )
        # The folder name becomes a line of labels.txt: a newline in it would add a class that does not exist.
        problem = label_problem(entry.name)
        if problem:
            raise DataError(f"{entry.path!r}: the class folder's name {problem}; rename the folder to one line of plain text")
        classes[entry.name] = Path(entry.path)
    if not classes:
        raise DataError(f"{split_dir}: no class folders; expected {split_dir}/<CLASS NAME>/<images>")
    return classes


def _image_files(class_dir: Path) -> list[Path]:
    files = []
    for entry in _visible_entries(class_dir):
        path = Path(entry.path)
        if _is_dir(entry):
            raise DataError(f"{path}: nested folders are not supported; put images directly in {class_dir}")
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DataError(
                f"{path}: not an image file (expected {'/'.join(IMAGE_EXTENSIONS)}); remove it from the data folder"
            )
        files.append(path)
    if not files:
        raise DataError(f"{class_dir}: class folder is empty; add images or remove the folder")
    return files


def _describe_difference(reference: str, ref_names: list[str], other: str, names: list[str]) -> str:
    missing = sorted(set(ref_names) - set(names))
    extra = sorted(set(names) - set(ref_names))
    parts = []
    if missing:
        parts.append(f"'{other}' lacks {missing[:3]}" + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    if extra:
        parts.append(f"'{other}' has extra {extra[:3]}" + (f" and {len(extra) - 3} more" if len(extra) > 3 else ""))
    return f"class folders differ between '{reference}' and '{other}': " + "; ".join(parts)


def load_image_folders(root: Path | str, *, splits: tuple[str, ...] = SPLITS) -> ImageFolders:
    """Scan `root` for the requested splits; class names are the sorted folder names, the same in every split."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: data folder not found; pass a folder with {'/'.join(splits)} sub-folders")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; pass a folder with {'/'.join(splits)} sub-folders")
    missing = [s for s in splits if not (root / s).is_dir()]
    if missing:
        raise DataError(
            f"{root}: missing split folder(s) {', '.join(missing)}; expected {root}/{{{','.join(splits)}}}/<CLASS>/<images>"
        )
    per_split = {s: _class_folders(root / s) for s in splits}
    reference = splits[0]
    class_names = sorted(per_split[reference])
    for s in splits[1:]:
        if sorted(per_split[s]) != class_names:
            raise DataError(f"{root}: " + _describe_difference(reference, class_names, s, sorted(per_split[s])))
    loaded = {}
    for s in splits:
        paths: list[Path] = []
        labels: list[int] = []
        for index, name in enumerate(class_names):
            files = _image_files(per_split[s][name])
            paths.extend(files)
            labels.extend([index] * len(files))
        loaded[s] = Split(s, tuple(paths), np.asarray(labels, dtype=np.int32))
    return ImageFolders(root, tuple(class_names), loaded)


def fingerprint(folders: ImageFolders) -> str:
    """sha256 over every loaded file's split/class/name and content: identifies the exact data a model saw."""
    digest = hashlib.sha256()
    for split in folders.splits.values():
        for path in split.paths:
            digest.update(str(path.relative_to(folders.root)).encode("utf-8", "surrogateescape") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
