"""What every exporter shares: the artifact folder, its manifest entry, timing and peak memory.

The SavedModel they convert is opened by edgevit.savedmodel.source.open_source.

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
from edgevit.errors import ExportError
from edgevit.fsutil import folder_size, sha256_file, sha256_tree
from edgevit.manifest import now_iso, tool_versions, write_manifest
from edgevit.models import conversion_route
from edgevit.outputs import ARTIFACT, replace_dir
from edgevit.savedmodel.source import SavedModelSource


@dataclass
class Built:
    """What a converter returns: the main file (inside the temp folder) and format facts for the manifest."""

    main_file: str  # relative to the artifact folder, e.g. "model.tflite" or "model.mlpackage"
    details: dict = field(default_factory=dict)  # options, op list, opset, quantization facts...
    input_spec: dict | None = None  # overrides the source's input spec (e.g. a fixed batch of 1)
    output_spec: dict | None = None
    # Which runtime versions can load it (the manifest's `runtime_support`, read by ios-sync and the report):
    # at least a one-line `summary`, then the format's own version stamps and the tables' verdicts (edgevit.compat).
    runtime_support: dict | None = None


def write_artifact(
    *,
    source: SavedModelSource,
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
        with replace_dir(out_dir / name, ARTIFACT, inputs=[source.folder]) as tmp:  # an earlier artifact only
            built = convert(tmp)
            seconds = time.perf_counter() - started
            main = tmp / built.main_file
            if not main.exists():
                raise ExportError(f"{fmt}: converter produced no {built.main_file}")
            src = source.manifest
            # A zoo architecture written so this converter takes it (e.g. Sequencer2D's unrolled LSTMs).
            rewrite = conversion_route(src.get("model"), fmt)
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
                # A model that is a folder (.mlpackage) has no file hash; this identifies its contents (the iOS
                # app keys its compiled-model cache by it).
                "package_sha256": None if main.is_file() else sha256_tree(main),
                "input": built.input_spec or src["input"],
                "output": built.output_spec or src["output"],
                "preprocessing": src["preprocessing"],
                "labels": src["labels"],
                "model": src.get("model"),
                "source": {"saved_model": str(source.folder.resolve()), "fingerprint": source.fingerprint,
                           "dataset": src.get("dataset"), "metrics": src.get("metrics")},
                "runtime_support": built.runtime_support,
                "conversion": {"seconds": round(seconds, 2), "peak_rss_bytes": peak_rss_bytes(), **built.details,
                               **({"architecture_route": rewrite} if rewrite else {})},
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
