"""SavedModel -> device artifacts. One module per format, one keyword-only function each, one dict.

    export_tflite(*, saved_model, out_dir, name=None, **options) -> Path   (exporters/tflite.py)
    export_onnx(*, saved_model, out_dir, name=None, **options) -> Path     (exporters/onnx.py)
    export_coreml(*, saved_model, out_dir, name=None, **options) -> Path   (exporters/coreml.py)

Options per format are in exporters/options.py, what each format and mode is in edgevit/formats.py. `export` calls one of them in this process;
`export_all` (exporters/jobs.py) runs each artifact in its own child process and writes
OUT/artifacts.json. Modules are imported on first use: registering the CLI imports no converter.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Callable

from edgevit.exporters.options import parse_format
from edgevit.formats import Format

# format -> "module:function"; adding a format is one module and one entry here.
EXPORTERS: dict[Format, str] = {
    Format.TFLITE: "edgevit.exporters.tflite:export_tflite",
    Format.ONNX: "edgevit.exporters.onnx:export_onnx",
    Format.COREML: "edgevit.exporters.coreml:export_coreml",
}


def get_exporter(fmt: Format | str) -> Callable[..., Path]:
    """The export function of a format (UsageError listing the known formats for an unknown one)."""
    module, function = EXPORTERS[parse_format(fmt)].split(":")
    return getattr(import_module(module), function)


def export(fmt: Format | str, *, saved_model: Path | str, out_dir: Path | str, name: str | None = None, **options) -> Path:
    """Build one artifact in this process; return its folder OUT/<name>."""
    return get_exporter(fmt)(saved_model=Path(saved_model), out_dir=Path(out_dir), name=name, **options)


# Imported last: jobs.py uses get_exporter's registry through the worker process only.
from edgevit.exporters.jobs import ArtifactJob, ExportResult, export_all  # noqa: E402

__all__ = ["EXPORTERS", "ArtifactJob", "ExportResult", "export", "export_all", "get_exporter"]
