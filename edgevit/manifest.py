"""manifest.json: the contract every stage, the device harness and the iOS app read.

It says what the model takes (input spec, preprocessing), what it returns (output spec, labels), where
it came from (data fingerprint, training recipe, tool versions) and how well it did (metrics).
"""

from __future__ import annotations

import platform
from pathlib import Path

from edgevit.config import LABELS_NAME, MANIFEST_NAME, MANIFEST_SCHEMA_VERSION, Preprocessing
from edgevit.errors import ModelError
from edgevit.formats import REFERENCE_FORMAT, packages
from edgevit.fsutil import BadJson, atomic_write_json, atomic_write_text, load_json
# Shared with the device harness, whose records carry the same timestamps and version lists.
from edgevit.portable.records import installed_versions, now_iso  # noqa: F401  (now_iso re-exported)

REQUIRED_KEYS = ("schema_version", "kind", "input", "output", "preprocessing", "labels")
# The manifest "kind" of the reference model is its format's name; every exported model's is "artifact".
SAVEDMODEL_KIND = REFERENCE_FORMAT.value
# Training's own packages, then every format's builders and runtimes (edgevit.formats).
_TOOLS = tuple(dict.fromkeys(("edgevit", "tensorflow-cpu", "keras", "vit-keras", "numpy", "pillow", *packages())))


def tool_versions(names: tuple[str, ...] = _TOOLS) -> dict[str, str]:
    return {"python": platform.python_version(), **installed_versions(names)}


def io_spec(preprocessing: Preprocessing, num_classes: int) -> tuple[dict, dict]:
    """The input and output tensors every artifact exposes (batch dimension None = dynamic)."""
    input_spec = {
        "name": "images",
        "shape": [None, preprocessing.height, preprocessing.width, 3],
        "dtype": "float32",
        "layout": preprocessing.layout,
    }
    output_spec = {"name": "probabilities", "shape": [None, num_classes], "dtype": "float32", "activation": "softmax"}
    return input_spec, output_spec


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write manifest.json and labels.txt beside the model (labels.txt is for tools that want one name a line)."""
    atomic_write_text(Path(folder) / LABELS_NAME, "\n".join(manifest["labels"]) + "\n")
    atomic_write_json(Path(folder) / MANIFEST_NAME, manifest)


def read_manifest(folder: Path) -> dict:
    """Read and check a manifest; ModelError with what is wrong and what to do."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"{folder}: no {MANIFEST_NAME}; point at a folder written by `edgevit train` or `edgevit export`")
    try:
        manifest = load_json(path)
    except BadJson as exc:
        raise ModelError(f"{path}: {exc}; re-create it with edgevit") from None
    if not isinstance(manifest, dict):
        raise ModelError(f"{path}: expected a JSON object; re-create it with edgevit")
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise ModelError(f"{path}: missing key(s) {', '.join(missing)}; re-create it with edgevit")
    version = manifest["schema_version"]
    if not isinstance(version, int) or version > MANIFEST_SCHEMA_VERSION:
        raise ModelError(
            f"{path}: manifest schema version {version!r} is newer than this edgevit understands "
            f"({MANIFEST_SCHEMA_VERSION}); upgrade edgevit"
        )
    labels = manifest["labels"]
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{path}: 'labels' must be a list of at least 2 class names; re-create it with edgevit")
    try:
        Preprocessing.from_dict(manifest["preprocessing"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: bad 'preprocessing' block ({exc}); re-create it with edgevit") from None
    return manifest


def preprocessing_of(manifest: dict) -> Preprocessing:
    return Preprocessing.from_dict(manifest["preprocessing"])
