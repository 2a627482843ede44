"""`edgevit device bundle`: a self-contained folder (optionally a zip) that runs with `python3 run.py` on a device.

Layout (every path inside the bundle, relative, checked again by the harness on the device)::

    run.py            entry point
    harness/          the harness package (numpy + one runtime, never TensorFlow)
    bundle.json       index: artifact and golden folders, the gate, default run counts, model cost
    artifact/         model file, manifest.json, labels.txt (as `edgevit export` wrote them)
    golden/           golden.json, inputs.f32, probabilities.f32
    README.md         how to install and run it on the device
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from edgevit import __version__
from edgevit.artifact import Artifact
from edgevit.device import ENTRY_SCRIPT, HARNESS_PACKAGE
from edgevit.device.gates import GoldenGate, golden_gate
from edgevit.portable import BUNDLE_INDEX, BUNDLE_SCHEMA_VERSION
from edgevit.portable.runtimes import PIP_NAMES, RUNTIMES_FOR_FORMAT
from edgevit.device.sources import copy_artifact, copy_golden, find_golden, open_device_artifact, open_golden
from edgevit.errors import UsageError
from edgevit.formats import Format
from edgevit.fsutil import atomic_write_json, atomic_write_text
from edgevit.manifest import now_iso
from edgevit.outputs import BUNDLE, BUNDLE_ZIP, Output, bundle_zip_path, check_outputs, replace_dir

BUNDLE_FORMATS = tuple(RUNTIMES_FOR_FORMAT)  # formats a device runtime can load: tflite, onnx
ARTIFACT_DIR = "artifact"
GOLDEN_DIR = "golden"


@dataclass(frozen=True)
class RunDefaults:
    """How much the harness measures unless told otherwise on the device."""

    warmup: int = 5
    runs: int = 50
    throughput_batch: int = 8
    throughput_runs: int = 10

    def __post_init__(self):
        for name, least in (("warmup", 0), ("runs", 1), ("throughput_batch", 0), ("throughput_runs", 1)):
            if getattr(self, name) < least:
                raise UsageError(f"--{name.replace('_', '-')} must be at least {least}, got {getattr(self, name)}")


@dataclass(frozen=True)
class BundleResult:
    folder: Path
    zip_path: Path | None
    gate: GoldenGate


def make_bundle(*, artifact: Path, out: Path, golden: Path | None = None, defaults: RunDefaults = RunDefaults(),
                max_abs_error: float | None = None, min_agreement: float | None = None, make_zip: bool = False) -> BundleResult:
    """Pack `artifact` (+ golden vectors, harness, gate, README) into the folder `out`; atomic.

    The gate is the one for the artifact's format and quantization (edgevit.device.gates), either bound overridable.
    """
    art = open_device_artifact(artifact, formats=BUNDLE_FORMATS, hint="Core ML runs on iOS: use `edgevit ios-sync`")
    gate = golden_gate(art.format, art.quantization, max_abs_error=max_abs_error, min_agreement=min_agreement)
    golden_folder = find_golden(art, golden)
    vectors = open_golden(golden_folder, [art])
    out = Path(out)
    # An earlier bundle only, and with --zip an earlier bundle's zip only: never a user's file named OUT.zip.
    zip_output = [Output("--zip", bundle_zip_path(out), BUNDLE_ZIP)] if make_zip else []
    check_outputs([Output(None, out, BUNDLE), *zip_output], inputs=[art.folder, golden_folder])
    index = {
        "schema_version": BUNDLE_SCHEMA_VERSION,
        "created": now_iso(),
        "edgevit_version": __version__,
        "artifact_dir": ARTIFACT_DIR,
        "golden_dir": GOLDEN_DIR,
        "gate": gate.to_dict(art.quantization),
        "defaults": {"warmup": defaults.warmup, "runs": defaults.runs,
                     "throughput_batch": defaults.throughput_batch, "throughput_runs": defaults.throughput_runs},
        "model": model_cost(art.manifest),
        "golden_count": vectors.count,
    }
    with replace_dir(out, BUNDLE, inputs=[art.folder, golden_folder]) as tmp:
        shutil.copy2(ENTRY_SCRIPT, tmp / "run.py")
        _copy_harness(tmp / "harness")
        copy_artifact(art, tmp / ARTIFACT_DIR)
        copy_golden(vectors, golden_folder, tmp / GOLDEN_DIR)
        atomic_write_json(tmp / BUNDLE_INDEX, index)
        atomic_write_text(tmp / "README.md", _readme(art, index))
    zip_path = _zip(out) if make_zip else None
    return BundleResult(folder=out, zip_path=zip_path, gate=gate)


def _copy_harness(dest: Path) -> None:
    """The harness's .py files only (no __pycache__ or editor leftovers)."""
    dest.mkdir()
    for path in sorted(HARNESS_PACKAGE.glob("*.py")):
        shutil.copy2(path, dest / path.name)


def model_cost(manifest: dict) -> dict | None:
    """MACs/params from the model's config, for the record's `model` block (None when the config is unknown)."""
    from edgevit.model_cost import model_block

    try:
        return model_block(manifest.get("model"))
    except (KeyError, TypeError, ValueError):
        return None


def _zip(folder: Path) -> Path:
    """FOLDER.zip holding FOLDER/... with relative names only (no absolute paths, no '..')."""
    path = bundle_zip_path(folder)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                archive.write(file, arcname=f"{folder.name}/{file.relative_to(folder).as_posix()}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _pip_line(fmt: str) -> str:
    """The exact versions the bundle was checked with on the host."""
    names = ["numpy", PIP_NAMES[RUNTIMES_FOR_FORMAT[fmt][0]]]
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return "python3 -m pip install " + " ".join(pins)


def _readme(art: Artifact, index: dict) -> str:
    gate, defaults = index["gate"], index["defaults"]
    agreement = "" if gate["min_agreement"] is None else f" and top-1 agreement at least {gate['min_agreement']:.1%}"
    fallback = " (or `tflite-runtime` where no ai-edge-litert wheel exists)" if art.format == Format.TFLITE else ""
    return f"""# edgevit device bundle: {art.manifest.get('name', art.folder.name)}

{art.format} artifact, quantization `{art.quantization}`, {len(art.manifest['labels'])} classes,
{index['golden_count']} golden vectors. Made by edgevit {index['edgevit_version']} on {index['created']}.

## Run it on the device

Python 3.9 or newer, numpy and one runtime{fallback}. Nothing else: the harness never imports
TensorFlow or edgevit.

    {_pip_line(art.format)}
    python3 run.py

Options: `--runs N` timed runs at batch 1 (default {defaults['runs']}), `--warmup N` (default {defaults['warmup']}),
`--threads N` (default: the CPUs this process may use, so `taskset -c 0 python3 run.py` measures one core),
`--throughput-batch N` (default {defaults['throughput_batch']}, 0 to skip), `--runtime NAME`, `--out FILE`.

## What it does

1. Checks the model file's sha256 against `artifact/manifest.json` (a damaged copy stops here).
2. Runs the golden vectors (`golden/`: preprocessed inputs and the SavedModel's probabilities) one at a
   time and compares: max |probability difference| must be at most {gate['max_abs_error']}{agreement}
   (the gate for `{gate['quantization']}` from `bundle.json`; {gate['source']}).
3. Times {defaults['warmup']} warm-up + {defaults['runs']} runs at batch 1 (p50/p90/p99/min/mean/max, every sample kept),
   load time, first inference, throughput at a larger batch, and the process's peak RSS.
4. Writes one record in edgevit's record schema to `results/<machine id>-<UTC time>.json`. Copy it
   back and merge it with host results: `edgevit report results/*.json HOST_RECORDS.json --out report/`.

Exit codes: 0 parity passed, 6 parity failed (the record is still written), 4 the bundle cannot be
used (damaged file, missing runtime), 2 bad option, 1 the runtime crashed while measuring.
"""
