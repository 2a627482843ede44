"""Golden vectors: a few preprocessed inputs and the reference's probabilities, for device tests.

`edgevit verify --write-golden DIR` writes DIR (conventionally OUT/golden beside the artifacts, where
the device harness and the iOS demo look) with three files:

golden.json
    {"schema_version": 1,
     "count": N, "input_shape": [N, H, W, 3], "num_classes": C,
     "dtype": "float32", "byte_order": "little",
     "inputs_file": "inputs.f32", "outputs_file": "probabilities.f32",
     "true_labels": [int, ...],            # N class indices into label_names
     "label_names": [str, ...],            # the model's C labels, in output order
     "reference": {"runtime": "savedmodel", "fingerprint": "<sha256 of the SavedModel>"},
     "preprocessing": {...}}               # the manifest's preprocessing block the inputs went through
inputs.f32
    N*H*W*3 raw little-endian float32: the images after edgevit.data.preprocess (NHWC, C-order).
    A device feeds these directly; it never re-runs preprocessing, so only the model is compared.
probabilities.f32
    N*C raw little-endian float32: the SavedModel's softmax output for those inputs (C-order).

The images are spread evenly over the split (sorted by class folder, then file), so every class
appears when N >= the number of classes. The folder is written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgevit.errors import DataError
from edgevit.formats import REFERENCE_RUNTIME
from edgevit.fsutil import atomic_dir

SCHEMA_VERSION = 1
INDEX_FILE = "golden.json"
INPUTS_FILE = "inputs.f32"
OUTPUTS_FILE = "probabilities.f32"
_LITTLE_F32 = np.dtype("<f4")


@dataclass(frozen=True)
class Golden:
    inputs: np.ndarray  # (N, H, W, 3) float32, preprocessed
    probabilities: np.ndarray  # (N, C) float32, the reference's output
    true_labels: np.ndarray  # (N,) int64
    label_names: list[str]
    preprocessing: dict
    reference: dict  # {"runtime", "fingerprint"}

    @property
    def count(self) -> int:
        return int(self.inputs.shape[0])


def golden_indices(total: int, count: int) -> np.ndarray:
    """`count` indices spread evenly over `total` items (all of them when count >= total)."""
    if total <= 0:
        raise DataError("no images to take golden vectors from")
    count = min(count, total)
    return np.unique(np.linspace(0, total - 1, count).round().astype(np.int64))


def write_golden(
    folder: Path | str,
    *,
    inputs: np.ndarray,
    probabilities: np.ndarray,
    true_labels: np.ndarray,
    label_names: list[str],
    preprocessing: dict,
    fingerprint: str,
    runtime: str = REFERENCE_RUNTIME.value,
) -> Path:
    inputs = np.asarray(inputs, dtype=np.float32)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    n = len(inputs)
    if inputs.ndim != 4 or inputs.shape[3] != 3 or probabilities.shape != (n, len(label_names)) or len(true_labels) != n:
        raise ValueError(
            f"golden vectors need inputs (N, H, W, 3), probabilities (N, {len(label_names)}) and N labels; got "
            f"{inputs.shape}, {probabilities.shape}, {len(true_labels)}"
        )
    index = {
        "schema_version": SCHEMA_VERSION,
        "count": n,
        "input_shape": list(inputs.shape),
        "num_classes": len(label_names),
        "dtype": "float32",
        "byte_order": "little",
        "inputs_file": INPUTS_FILE,
        "outputs_file": OUTPUTS_FILE,
        "true_labels": [int(v) for v in true_labels],
        "label_names": list(label_names),
        "reference": {"runtime": runtime, "fingerprint": fingerprint},
        "preprocessing": preprocessing,
    }
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(folder) as tmp:
        (tmp / INPUTS_FILE).write_bytes(inputs.astype(_LITTLE_F32).tobytes(order="C"))
        (tmp / OUTPUTS_FILE).write_bytes(probabilities.astype(_LITTLE_F32).tobytes(order="C"))
        (tmp / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return folder


def read_golden(folder: Path | str) -> Golden:
    """Read and check a golden folder; DataError saying what is wrong."""
    folder = Path(folder)
    path = folder / INDEX_FILE
    if not path.is_file():
        raise DataError(f"{folder}: no {INDEX_FILE}; write golden vectors with `edgevit verify --write-golden DIR`")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); write the golden vectors again") from None
    if not isinstance(index, dict) or index.get("schema_version") != SCHEMA_VERSION:
        raise DataError(f"{path}: schema version {index.get('schema_version') if isinstance(index, dict) else None!r}, expected {SCHEMA_VERSION}")
    if index.get("dtype") != "float32" or index.get("byte_order") != "little":
        raise DataError(f"{path}: dtype/byte order must be float32/little, got {index.get('dtype')!r}/{index.get('byte_order')!r}")
    try:
        count, num_classes = int(index["count"]), int(index["num_classes"])
        shape = tuple(int(v) for v in index["input_shape"])
        labels = [int(v) for v in index["true_labels"]]
        names = [str(v) for v in index["label_names"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: missing or malformed key ({exc}); write the golden vectors again") from None
    if len(shape) != 4 or shape[0] != count or shape[3] != 3 or len(labels) != count or len(names) != num_classes:
        raise DataError(f"{path}: count {count}, input_shape {list(shape)}, {len(labels)} labels and {len(names)} names disagree")
    inputs = _read_f32(folder / str(index.get("inputs_file", INPUTS_FILE)), shape)
    probabilities = _read_f32(folder / str(index.get("outputs_file", OUTPUTS_FILE)), (count, num_classes))
    return Golden(inputs, probabilities, np.asarray(labels, np.int64), names, dict(index.get("preprocessing") or {}),
                  dict(index.get("reference") or {}))


def _read_f32(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    expected = int(np.prod(shape)) * 4
    if not path.is_file():
        raise DataError(f"{path}: missing; write the golden vectors again")
    if path.stat().st_size != expected:
        raise DataError(f"{path}: {path.stat().st_size} bytes, expected {expected} for float32 {list(shape)}; write the golden vectors again")
    return np.fromfile(path, dtype=_LITTLE_F32).reshape(shape).astype(np.float32)
