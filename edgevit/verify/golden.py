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
appears when N >= the number of classes. The folder is written atomically, and replaces only an earlier
golden folder (edgevit.outputs). The one reader is
edgevit.portable.golden (the device harness's), whose names and constants this writer uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgevit.errors import DataError
from edgevit.formats import REFERENCE_RUNTIME
from edgevit.outputs import GOLDEN, replace_dir
from edgevit.portable.golden import FLOAT32_LE, GOLDEN_INDEX, GOLDEN_SCHEMA_VERSION, INPUTS_FILE, OUTPUTS_FILE


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
        "schema_version": GOLDEN_SCHEMA_VERSION,
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
    with replace_dir(folder, GOLDEN) as tmp:  # an earlier golden folder only, never another folder named by mistake
        (tmp / INPUTS_FILE).write_bytes(inputs.astype(FLOAT32_LE).tobytes(order="C"))
        (tmp / OUTPUTS_FILE).write_bytes(probabilities.astype(FLOAT32_LE).tobytes(order="C"))
        (tmp / GOLDEN_INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return folder
