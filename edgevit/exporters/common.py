"""What every exporter shares: the artifact folder, its manifest entry, timing and peak memory.

An artifact is a folder `OUT/<name>/` holding the model file(s), `manifest.json` and `labels.txt`. It
is built in a temp sibling and renamed into place only when complete, so a failed or interrupted
export leaves neither a half-written file nor a stale manifest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgevit.portable.machine import peak_rss_bytes
from edgevit.errors import ExportError, ModelError
from edgevit.fsutil import atomic_dir, folder_size, sha256_file
from edgevit.manifest import SAVEDMODEL_KIND, now_iso, read_manifest, tool_versions, write_manifest


@dataclass(frozen=True)
class SourceModel:
    """The SavedModel being exported, what its manifest says about it, and its one serving signature."""

    folder: Path
    manifest: dict
    signature: str  # e.g. "serving_default"
    input_name: str  # the signature's input key, e.g. "images"
    input_shape: tuple  # (None, H, W, 3)

    @property
    def fingerprint(self) -> str:
        """sha256 of saved_model.pb + the variables index (which holds a checksum of every weight)."""
        import hashlib

        digest = hashlib.sha256()
        for rel in ("saved_model.pb", "variables/variables.index"):
            digest.update(sha256_file(self.folder / rel).encode())
        return digest.hexdigest()


def open_source(saved_model: Path | str) -> SourceModel:
    """Check what an export needs before any conversion starts; ModelError (one line) otherwise.

    Reads saved_model.pb's signatures only (no TensorFlow import, no variables), so a bad input is
    reported in a second even at ViT-L/32 scale.
    """
    folder = Path(saved_model)
    if not folder.is_dir() or not (folder / "saved_model.pb").is_file():
        raise ModelError(f"{folder}: not a SavedModel folder (no saved_model.pb); pass the saved_model/ that `edgevit train` wrote")
    if not (folder / "variables" / "variables.index").is_file():
        raise ModelError(f"{folder}: SavedModel without variables/variables.index; re-save it with `edgevit train`")
    manifest = read_manifest(folder)
    if manifest.get("kind") != SAVEDMODEL_KIND:
        raise ModelError(f"{folder}: manifest kind is {manifest.get('kind')!r}, expected 'savedmodel'")
    signature, input_name, shape = _serving_signature(folder)
    declared = list(manifest["input"].get("shape", []))[1:3]
    if declared != list(shape[1:3]):
        raise ModelError(f"{folder}: manifest input size {declared} differs from the signature's {list(shape[1:3])}; re-create it with edgevit")
    return SourceModel(folder, manifest, signature, input_name, shape)


def _serving_signature(folder: Path) -> tuple[str, str, tuple]:
    """(signature key, input key, (None, H, W, 3)) of the SavedModel's only signature."""
    from edgevit.savedmodel.proto import ProtoError, read_signatures

    try:
        graphs = read_signatures(folder / "saved_model.pb")
    except ProtoError:
        raise ModelError(f"{folder}/saved_model.pb: not a SavedModel protobuf; re-save it with `edgevit train`") from None
    if len(graphs) != 1:
        raise ModelError(f"{folder}: expected one MetaGraph, found {len(graphs)}; re-save it with `edgevit train`")
    # "__saved_model_init_op" and the like are TF's own entries, not serving signatures.
    signatures = {k: v for k, v in graphs[0].items() if not k.startswith("__")}
    if len(signatures) != 1:
        raise ModelError(
            f"{folder}: expected exactly one serving signature, found {len(signatures)} ({', '.join(sorted(signatures)) or 'none'}); "
            "re-save the model with one signature (`edgevit train` does)"
        )
    (key, signature), = signatures.items()
    if len(signature.inputs) != 1 or len(signature.outputs) != 1:
        raise ModelError(
            f"{folder}: signature {key!r} has {len(signature.inputs)} input(s) and {len(signature.outputs)} output(s); "
            "an image classifier takes one image batch and returns one probability tensor"
        )
    (input_name, tensor), = signature.inputs.items()
    shape = tensor.shape
    if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] != 3:
        shown = "of unknown rank" if shape is None else list(shape)
        raise ModelError(
            f"{folder}: input {input_name!r} has shape {shown}, not a fixed (batch, H, W, 3) size; "
            "re-save the model with a fixed image size"
        )
    return key, input_name, (None, shape[1], shape[2], 3)


@dataclass
class Built:
    """What a converter returns: the main file (inside the temp folder) and format facts for the manifest."""

    main_file: str  # relative to the artifact folder, e.g. "model.tflite" or "model.mlpackage"
    details: dict = field(default_factory=dict)  # options, op list, opset, quantization facts...
    input_spec: dict | None = None  # overrides the source's input spec (e.g. a fixed batch of 1)
    output_spec: dict | None = None


def write_artifact(
    *,
    source: SourceModel,
    out_dir: Path,
    name: str,
    fmt: str,
    quantization: str,
    convert: Callable[[Path], Built],
) -> Path:
    """Run `convert(tmp_folder)`, then write the manifest entry, atomically as one folder `out_dir/name`."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{out_dir}: cannot create output folder ({exc.strerror}); pick a writable --out") from None
    started = time.perf_counter()
    try:
        with atomic_dir(out_dir / name) as tmp:
            built = convert(tmp)
            seconds = time.perf_counter() - started
            main = tmp / built.main_file
            if not main.exists():
                raise ExportError(f"{fmt}: converter produced no {built.main_file}")
            src = source.manifest
            manifest = {
                "schema_version": 1,
                "kind": "artifact",
                "created": now_iso(),
                "name": name,
                "format": fmt,
                "quantization": quantization,
                "file": built.main_file,
                "file_size": folder_size(main),
                "sha256": sha256_file(main) if main.is_file() else None,
                "input": built.input_spec or src["input"],
                "output": built.output_spec or src["output"],
                "preprocessing": src["preprocessing"],
                "labels": src["labels"],
                "model": src.get("model"),
                "source": {"saved_model": str(source.folder.resolve()), "fingerprint": source.fingerprint,
                           "dataset": src.get("dataset"), "metrics": src.get("metrics")},
                "conversion": {"seconds": round(seconds, 2), "peak_rss_bytes": peak_rss_bytes(), **built.details},
                "tool_versions": tool_versions(),
            }
            write_manifest(tmp, manifest)
    except PermissionError as exc:
        raise ExportError(f"{out_dir}: not writable ({exc.strerror}); pick a writable --out") from None
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise ExportError(f"{out_dir}: disk full while writing {name}; free space and export again") from None
        raise
    return out_dir / name
