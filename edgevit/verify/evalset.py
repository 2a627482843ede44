"""The labelled images verify runs every model on: the data set to use, its split decoded once per
input size, labels mapped onto the model's classes, and a runner's predictions over all of it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgevit.artifact import Artifact
from edgevit.config import MANIFEST_NAME, Preprocessing
from edgevit.errors import DataError

# Images normalised at a time (ViT-L/32 at 224 px: 256 images are 154 MB of float32).
CHUNK_IMAGES = 256


def resolve_data_root(reference: Artifact, data: Path | str | None) -> Path:
    if data is not None:
        return Path(data)
    root = (reference.manifest.get("dataset") or {}).get("root")
    if not root:
        raise DataError(f"{reference.folder}: its manifest records no data set; pass --data ROOT")
    if not Path(root).is_dir():
        raise DataError(f"{root} (the data set recorded in {reference.folder}/{MANIFEST_NAME}) does not exist; pass --data ROOT")
    return Path(root)


@dataclass(frozen=True)
class EvalSet:
    """The labelled images, decoded once per input size, with labels as the model's class indices."""

    root: Path
    split: str
    paths: tuple[Path, ...]
    labels: np.ndarray  # index into the model's labels
    label_names: list[str]  # the model's labels
    split_size: int = 0  # images in the whole split (more than len(paths) under --max-images)
    _pixels: dict = field(default_factory=dict, repr=False)

    def pixels(self, spec: Preprocessing) -> np.ndarray:
        """uint8 (N, H, W, 3): decoded and resized as spec says (cached per size and resize method)."""
        from edgevit.data.batches import load_pixels
        from edgevit.data.folders import Split

        key = (spec.height, spec.width, spec.resize, spec.color)
        if key not in self._pixels:
            self._pixels[key] = load_pixels(Split(self.split, self.paths, self.labels), spec)
        return self._pixels[key]

    def inputs(self, spec: Preprocessing, start: int, stop: int) -> np.ndarray:
        """Images start..stop as model input: edgevit.data.preprocess's normalisation with `spec`."""
        from edgevit.data.preprocess import normalize

        return normalize(self.pixels(spec)[start:stop], spec)


def load_eval_set(root: Path, split: str, label_names: list[str], *, max_images: int | None = None) -> EvalSet:
    """The split's images with labels mapped onto the model's classes; DataError for classes the model does not know."""
    from edgevit.data.folders import load_image_folders
    from edgevit.verify.golden import golden_indices

    folders = load_image_folders(root, splits=(split,))
    unknown = [name for name in folders.class_names if name not in label_names]
    if unknown:
        shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise DataError(
            f"{root}/{split} has {len(unknown)} class folder(s) the model does not know ({shown}); "
            f"the model has {len(label_names)} classes: pass the data set it was trained on (--data ROOT)"
        )
    data = folders.split(split)
    index_of = {name: i for i, name in enumerate(label_names)}
    labels = np.asarray([index_of[folders.class_names[k]] for k in data.labels], dtype=np.int64)
    chosen = np.arange(len(data)) if max_images is None else golden_indices(len(data), max_images)
    return EvalSet(Path(root), split, tuple(data.paths[i] for i in chosen), labels[chosen], list(label_names), len(data))


def predict_all(runner, evalset: EvalSet, spec: Preprocessing) -> tuple[np.ndarray, float]:
    """All images through `runner`, in chunks; (probabilities, wall seconds spent in runner.predict)."""
    outputs, seconds = [], 0.0
    for start in range(0, len(evalset.paths), CHUNK_IMAGES):
        batch = evalset.inputs(spec, start, start + CHUNK_IMAGES)
        began = time.perf_counter()
        outputs.append(runner.predict(batch))
        seconds += time.perf_counter() - began
    return np.concatenate(outputs), seconds
