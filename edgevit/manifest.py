"""manifest.json: the contract every stage, the device harness and the iOS app read.

It says what the model takes (input spec, preprocessing), what it returns (output spec, labels), where
it came from (data fingerprint, training recipe, tool versions) and how well it did (metrics).
"""

from __future__ import annotations

import json
import platform
import unicodedata
from pathlib import Path

from edgevit.config import LABELS_NAME, MANIFEST_NAME, MANIFEST_SCHEMA_VERSION, Preprocessing
from edgevit.errors import ModelError
from edgevit.formats import REFERENCE_FORMAT, packages
from edgevit.fsutil import BadJson, atomic_write_json, atomic_write_text, load_json
# Shared with the device harness, whose records carry the same timestamps and version lists.
from edgevit.portable.records import installed_versions, now_iso  # noqa: F401  (now_iso re-exported)

REQUIRED_KEYS = ("schema_version", "kind", "input", "output", "preprocessing", "labels")
# Characters that end, hide or garble a line of labels.txt (one class name a line): control characters,
# the Unicode line and paragraph separators, and the lone surrogates that stand for bytes that are not UTF-8.
_NOT_IN_A_LABEL = {"Cc": "a control character", "Zl": "a line separator", "Zp": "a paragraph separator",
                   "Cs": "a byte that is not UTF-8"}
LABELS_FILE_MAX_BYTES = 16 * 2**20  # far above any real class list; a bigger labels.txt is not one
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


def label_problem(label: str) -> str | None:
    """Why `label` cannot be a class name (one line of labels.txt), or None when it can."""
    if not label:
        return "is empty"
    for char in label:
        what = _NOT_IN_A_LABEL.get(unicodedata.category(char))
        if what:
            return f"holds {what} ({char!r})"
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a count


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _quoted(text: str) -> str:
    """repr(text), clipped: a message stays one readable line whatever a file holds."""
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _field_error(path: Path, field: str, expected: str, value) -> ModelError:
    return ModelError(f"{path}: '{field}' must be {expected}, found {_shown(value)}; re-create it with edgevit")


def _check_shape(path: Path, field: str, shape, *, rank: int, expected: str) -> list:
    """A tensor shape: whole numbers >= 1, the leading (batch) dimension may be null."""
    ok = (isinstance(shape, list) and len(shape) == rank
          and (shape[0] is None or _is_int(shape[0]) and shape[0] >= 1) and all(_is_int(d) and d >= 1 for d in shape[1:]))
    if not ok:
        raise _field_error(path, field, expected, shape)
    return shape


def _check_fields(path: Path, manifest: dict) -> None:
    """Every field a stage computes with has the type it needs; the message names the field."""
    for block in ("input", "output", "preprocessing"):
        if not isinstance(manifest[block], dict):
            raise _field_error(path, block, "an object", manifest[block])
    images = "[batch, height, width, 3] in whole numbers (batch may be null)"
    if _check_shape(path, "input.shape", manifest["input"].get("shape"), rank=4, expected=images)[3] != 3:
        raise _field_error(path, "input.shape", images, manifest["input"]["shape"])
    outputs = _check_shape(path, "output.shape", manifest["output"].get("shape"), rank=2,
                           expected="[batch, classes] in whole numbers (batch may be null)")[1]
    pre = manifest["preprocessing"]
    for key in ("height", "width"):
        if not (_is_int(pre.get(key)) and pre[key] >= 1):
            raise _field_error(path, f"preprocessing.{key}", "a whole number of pixels >= 1", pre.get(key))
    for key in ("mean", "std"):
        values = pre.get(key)
        if not (isinstance(values, list) and len(values) == 3 and all(_is_number(v) for v in values)):
            raise _field_error(path, f"preprocessing.{key}", "3 numbers (R, G, B)", values)
    if "file_size" in manifest and not (_is_int(manifest["file_size"]) and manifest["file_size"] >= 0):
        raise _field_error(path, "file_size", "a whole number of bytes", manifest["file_size"])
    labels = manifest["labels"]
    for index, label in enumerate(labels):
        problem = label_problem(label)
        if problem:
            raise ModelError(f"{path}: label #{index} {_quoted(label)} {problem}; class names are one line of text each, re-create it with edgevit")
    if outputs != len(labels):
        raise ModelError(f"{path}: {len(labels)} labels but 'output.shape' {_shown(manifest['output']['shape'])} "
                         f"gives {outputs} outputs; the labels must name the model's outputs, re-create it with edgevit")


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
    if not _is_int(version):
        raise _field_error(path, "schema_version", "a whole number", version)
    if version > MANIFEST_SCHEMA_VERSION:
        raise ModelError(
            f"{path}: manifest schema version {version!r} is newer than this edgevit understands "
            f"({MANIFEST_SCHEMA_VERSION}); upgrade edgevit"
        )
    labels = manifest["labels"]
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{path}: 'labels' must be a list of at least 2 class names; re-create it with edgevit")
    _check_fields(path, manifest)
    try:
        Preprocessing.from_dict(manifest["preprocessing"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: bad 'preprocessing' block ({exc}); re-create it with edgevit") from None
    return manifest


def check_labels_file(folder: Path, manifest: dict) -> None:
    """labels.txt, where there is one, lists the manifest's labels one a line; ModelError naming both files otherwise."""
    path, manifest_path = Path(folder) / LABELS_NAME, Path(folder) / MANIFEST_NAME
    try:
        if path.stat().st_size > LABELS_FILE_MAX_BYTES:
            raise ModelError(f"{path}: larger than {LABELS_FILE_MAX_BYTES // 2**20} MiB, not a class list; "
                             f"re-create it from {manifest_path} with edgevit")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return  # labels.txt is a convenience copy for other tools; the manifest is the contract
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not UTF-8 text; re-create it from {manifest_path} with edgevit") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror}); make it readable") from None
    lines, labels = text.splitlines(), list(manifest["labels"])
    if lines == labels:
        return
    if len(lines) != len(labels):
        detail = f"{len(lines)} lines, the manifest has {len(labels)} labels"
    else:
        i = next(k for k, (x, y) in enumerate(zip(lines, labels)) if x != y)
        detail = f"line {i + 1} is {_quoted(lines[i])}, the manifest's label #{i} is {_quoted(labels[i])}"
    raise ModelError(f"{path} contradicts {manifest_path} ({detail}); re-export (or re-train) to write both again")


def preprocessing_of(manifest: dict) -> Preprocessing:
    return Preprocessing.from_dict(manifest["preprocessing"])
