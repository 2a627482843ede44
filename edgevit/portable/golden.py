"""Read golden vectors: golden.json + raw little-endian float32 inputs (N,H,W,3) and reference probabilities (N,C).

The one reader, on the device and on the host; edgevit.verify.golden writes the format with the
names and constants defined here, so writer and reader cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EXIT_BUNDLE, HarnessError
from .files import inside, read_json

GOLDEN_INDEX = "golden.json"
GOLDEN_SCHEMA_VERSION = 1
INPUTS_FILE = "inputs.f32"
OUTPUTS_FILE = "probabilities.f32"
FLOAT32_LE = np.dtype("<f4")  # both data files: raw little-endian float32, C order, nothing else


@dataclass(frozen=True)
class Golden:
    index: dict  # golden.json as read
    inputs: np.ndarray  # (N, H, W, 3) float32, already preprocessed
    probabilities: np.ndarray  # (N, C) float32, the reference's output
    true_labels: np.ndarray | None  # (N,) int64, None when the golden set has none

    @property
    def count(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def label_names(self) -> list[str] | None:
        names = self.index.get("label_names")
        return None if names is None else [str(n) for n in names]

    @property
    def preprocessing(self) -> dict | None:
        """The manifest's preprocessing block the inputs went through."""
        return self.index.get("preprocessing")

    @property
    def reference(self) -> dict:
        """{"runtime": ..., "fingerprint": <sha256 of the SavedModel>} of what produced the probabilities."""
        return dict(self.index.get("reference") or {})

    @property
    def reference_runtime(self) -> str:
        return str(self.reference.get("runtime") or "reference")


def _bad(folder: Path, what: str) -> HarnessError:
    return HarnessError(f"{folder / GOLDEN_INDEX}: {what}; write the golden vectors again with `edgevit verify --write-golden`",
                        exit_code=EXIT_BUNDLE)


def _read_f32(folder: Path, name: str, shape: tuple[int, ...]) -> np.ndarray:
    path = inside(folder, name, "golden file")
    expected = int(np.prod(shape)) * FLOAT32_LE.itemsize
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _bad(folder, f"{name} is missing") from None
    if size != expected:
        raise _bad(folder, f"{name} holds {size} bytes, expected {expected} for float32 {list(shape)}")
    return np.fromfile(path, dtype=FLOAT32_LE).reshape(shape).astype(np.float32, copy=False)


def read_golden(folder: Path) -> Golden:
    folder = Path(folder)
    index = read_json(folder / GOLDEN_INDEX, GOLDEN_INDEX)
    if index.get("schema_version") != GOLDEN_SCHEMA_VERSION:
        raise _bad(folder, f"schema version {index.get('schema_version')!r}, this harness reads {GOLDEN_SCHEMA_VERSION}")
    if index.get("dtype") != "float32" or index.get("byte_order") != "little":
        raise _bad(folder, f"dtype {index.get('dtype')!r} / byte order {index.get('byte_order')!r}, expected float32 / little")
    try:
        count, num_classes = int(index["count"]), int(index["num_classes"])
        shape = tuple(int(v) for v in index["input_shape"])
        inputs_file, outputs_file = index["inputs_file"], index["outputs_file"]
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(folder, f"missing or bad key ({exc})") from None
    if len(shape) != 4 or shape[0] != count or shape[3] != 3 or count < 1:
        raise _bad(folder, f"input_shape {list(shape)} is not [count={count}, H, W, 3]")
    inputs = _read_f32(folder, inputs_file, shape)
    probabilities = _read_f32(folder, outputs_file, (count, num_classes))
    # A NaN or infinity here would make every parity number meaningless (and NaN cannot be written to JSON).
    for name, values in ((inputs_file, inputs), (outputs_file, probabilities)):
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise _bad(folder, f"{name} holds {bad} NaN or infinite value(s)")
    labels = index.get("true_labels")
    true_labels = None
    if labels is not None:
        if len(labels) != count or not all(isinstance(v, int) and 0 <= v < num_classes for v in labels):
            raise _bad(folder, f"true_labels must be {count} class indices below {num_classes}")
        true_labels = np.asarray(labels, dtype=np.int64)
    names = index.get("label_names")
    if names is not None and (not isinstance(names, list) or len(names) != num_classes):
        raise _bad(folder, f"label_names must be a list of the model's {num_classes} labels")
    return Golden(index=index, inputs=inputs, probabilities=probabilities, true_labels=true_labels)


def check_matches_manifest(golden: Golden, manifest: dict, folder: Path) -> None:
    """Golden vectors made for another model (size, classes, preprocessing) would make parity meaningless."""
    pre = manifest["preprocessing"]
    height, width = golden.inputs.shape[1:3]
    if (height, width) != (int(pre["height"]), int(pre["width"])):
        raise _bad(folder, f"inputs are {height}x{width}, the model takes {pre['height']}x{pre['width']}")
    if golden.probabilities.shape[1] != len(manifest["labels"]):
        raise _bad(folder, f"{golden.probabilities.shape[1]} classes, the model has {len(manifest['labels'])}")
    names = golden.index.get("label_names")
    if names is not None and list(names) != list(manifest["labels"]):
        raise _bad(folder, "label_names differ from the model's labels")
    golden_pre = golden.index.get("preprocessing")
    if golden_pre is not None and _float_lists(golden_pre) != _float_lists(pre):
        raise _bad(folder, "preprocessing differs from the model manifest's")


def _float_lists(pre: dict) -> dict:
    return {k: ([float(x) for x in v] if isinstance(v, list) else v) for k, v in pre.items()}
