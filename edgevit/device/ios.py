"""`edgevit ios-sync`: put the .tflite and/or .mlpackage, their manifests, gates and the golden vectors into ios_demo.

The app reads everything from its `Models` folder (an Xcode folder reference, bundled as is)::

    Models/sync.json               which formats are present, where their manifests are
    Models/tflite/                 model.tflite, manifest.json, labels.txt, gate.json
    Models/coreml/                 model.mlpackage/, manifest.json, labels.txt, gate.json
    Models/golden/                 golden.json, inputs.f32, probabilities.f32

Input size, normalisation and labels come from manifest.json; nothing is repeated in Swift.
The whole folder is replaced atomically, so the app never sees a mix of two syncs.

Only artifacts the app's code path can run are synced (`check_app_can_run`): TensorFlowLiteSwift reads and
writes a tensor through `Tensor.DataType`, which has no int8 case, so a TFLite model whose input or
output tensor is not float32 is refused, naming the artifact to sync instead; a Core ML package needs
the `package_sha256` its compiled-model cache is keyed by.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

from edgevit import __version__
from edgevit.artifact import Artifact
from edgevit.device.gates import golden_gate
from edgevit.device.podfile import PodfilePins, read_podfile
from edgevit.device.bundle import model_cost
from edgevit.device.sources import copy_artifact, copy_golden, find_golden, open_device_artifact, open_golden
from edgevit.compat import parse_version
from edgevit.config import MANIFEST_NAME
from edgevit.errors import ModelError, UsageError
from edgevit.formats import FORMATS, Format
from edgevit.fsutil import atomic_write_json, atomic_write_text
from edgevit.manifest import now_iso
from edgevit.outputs import SYNC_INDEX, Output, check_outputs, ios_models_kind, replace_dir

IOS_FORMATS = (Format.TFLITE, Format.COREML)
IOS_HINT = f"the iOS app runs {' and '.join(FORMATS[f].title for f in IOS_FORMATS)}"
SYNC_SCHEMA_VERSION = 1
GATE_FILE = "gate.json"
PODFILE = "Podfile"
GOLDEN_DIR = "golden"
MODELS_README = """# Models (filled by `edgevit ios-sync`)

Everything in this folder except this README is written by `edgevit ios-sync ARTIFACT [ARTIFACT ...]`
and ignored by git. See ../../README.md.
"""


def default_models_dir() -> Path:
    """ios_demo/EdgeViTDemo/Models of the edgevit checkout this module lives in."""
    return Path(__file__).resolve().parents[2] / "ios_demo" / "EdgeViTDemo" / "Models"  # edgevit/device/ios.py


# The folder is replaced as a whole: only ever an earlier sync's or the app's placeholder README.
MODELS_KIND = ios_models_kind(IOS_FORMATS)


# The only tensor type the app's TFLite path feeds and reads (TFLiteClassifier.swift).
APP_TENSOR_DTYPE = "float32"


def check_app_can_run(art: Artifact) -> None:
    """UsageError (one line, naming what to sync instead) for an artifact the iOS app's code path cannot run."""
    manifest = art.manifest
    if art.format == Format.TFLITE:
        dtypes = {side: (manifest.get(side) or {}).get("dtype") for side in ("input", "output")}
        wrong = {side: dtype for side, dtype in dtypes.items() if dtype != APP_TENSOR_DTYPE}
        if wrong:
            if len(wrong) == 2 and len(set(wrong.values())) == 1:
                tensors = f"input and output tensors are {dtypes['input']}"
            else:
                tensors = " and ".join(f"{side} tensor is {dtype}" for side, dtype in wrong.items())
            sibling = art.folder.parent / f"{art.folder.name}-float-io"
            instead = (f"sync {sibling} instead (the same model with float input and output)" if (sibling / "manifest.json").is_file()
                       else f"export it with float input and output (`edgevit export SAVED_MODEL --format tflite --quantization "
                            f"{art.quantization} --float-io`) and sync that one instead")
            raise UsageError(f"{art.folder.name}: its {tensors}; the iOS app's TensorFlowLiteSwift only feeds "
                             f"{APP_TENSOR_DTYPE} tensors (its Tensor.DataType has no int8); {instead}")
    elif art.format == Format.COREML and not isinstance(manifest.get("package_sha256"), str):
        raise UsageError(f"{art.folder.name}: its manifest has no package_sha256 (exported by an older edgevit), which the app keys its "
                         "compiled-model cache by; export it again and sync the new one")


@dataclass(frozen=True)
class SyncResult:
    models_dir: Path
    formats: dict[str, Path]  # format -> artifact folder synced
    golden_count: int


def podfile_for(models_dir: Path) -> Path:
    """The Podfile of the app whose Models folder this is (ios_demo/Podfile beside ios_demo/EdgeViTDemo/Models),
    else this checkout's ios_demo/Podfile."""
    beside = Path(models_dir).parent.parent / PODFILE
    return beside if beside.is_file() else default_models_dir().parent.parent / PODFILE


def check_runs_in_app(art: Artifact, pins: PodfilePins) -> None:
    """UsageError (one line) when the app as its Podfile pins it cannot load `art`: a .tflite needing a newer
    TFLite than the pinned pod, a Core ML model needing a newer iOS than the deployment target."""
    if art.format == Format.TFLITE:
        from edgevit.exporters.tflite_file import min_runtime_version, op_versions

        # Read from the model itself (open_artifact checked its sha256): artifacts exported before their
        # manifests recorded runtime_support are checked too.
        try:
            with open(art.model_path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as model:
                needed, ops = min_runtime_version(model), op_versions(model)
        except Exception:  # an empty or damaged flatbuffer raises whatever the reader trips on
            raise ModelError(f"{art.model_path}: not a readable .tflite model; re-export the artifact") from None
        pins.check_tflite(needed, ops, artifact=str(art.folder))
    elif art.format == Format.COREML:
        pins.check_ios(_recorded_minimum_ios(art), artifact=str(art.folder))


def _recorded_minimum_ios(art: Artifact) -> str | None:
    """runtime_support.minimum_os.iOS of a Core ML artifact's manifest; None where it was exported before edgevit
    recorded it; ModelError naming the field when it is there but not a version."""
    support = art.manifest.get("runtime_support")
    minimum_os = support.get("minimum_os") if isinstance(support, dict) else None
    value = minimum_os.get("iOS") if isinstance(minimum_os, dict) else None
    if value is None:
        return None
    try:
        parse_version(value if isinstance(value, str) else "?")
    except UsageError:
        raise ModelError(f"{art.folder / MANIFEST_NAME}: 'runtime_support.minimum_os.iOS' must be a version like 16, "
                         f"found {value!r}; re-export the artifact") from None
    return value


def ios_sync(*, artifacts: list[Path], models_dir: Path | None = None, golden: Path | None = None,
             podfile: Path | None = None) -> SyncResult:
    """Replace `models_dir` with the given artifacts (at most one per format) and matching golden vectors.

    Each artifact must load in the app as `podfile` (default: podfile_for(models_dir)) pins it."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    if not models_dir.parent.is_dir():
        raise UsageError(f"{models_dir.parent}: no such folder; pass --models-dir pointing into your ios_demo checkout")
    if not artifacts:
        raise UsageError("pass at least one artifact folder (a tflite and/or a coreml one)")
    check_outputs([Output("--models-dir", models_dir, MODELS_KIND)], inputs=artifacts)
    opened: dict[str, Artifact] = {}
    for folder in artifacts:
        art = open_device_artifact(folder, formats=IOS_FORMATS, hint=IOS_HINT)
        check_app_can_run(art)
        if art.format in opened:
            raise UsageError(f"two {art.format} artifacts ({opened[art.format].folder}, {art.folder}); the app holds one per format")
        opened[art.format] = art
    pins = read_podfile(Path(podfile) if podfile is not None else podfile_for(models_dir))
    for art in opened.values():
        check_runs_in_app(art, pins)
    fingerprints = {a.source_fingerprint for a in opened.values()}
    if len(fingerprints) > 1:
        raise UsageError("the artifacts come from different SavedModels; sync artifacts of one model")
    first = next(iter(opened.values()))
    golden_folder = find_golden(first, golden)
    vectors = open_golden(golden_folder, list(opened.values()))
    gates = {fmt: golden_gate(art.format, art.quantization) for fmt, art in opened.items()}

    index = {
        "schema_version": SYNC_SCHEMA_VERSION,
        "created": now_iso(),
        "edgevit_version": __version__,
        "formats": {fmt: {"folder": fmt, "manifest": f"{fmt}/manifest.json", "gate": f"{fmt}/{GATE_FILE}"} for fmt in opened},
        "golden": f"{GOLDEN_DIR}/golden.json",
        "model": model_cost(first.manifest),
    }
    with replace_dir(models_dir, MODELS_KIND, flag="--models-dir", inputs=[*artifacts, golden_folder]) as tmp:
        for fmt, art in opened.items():
            copy_artifact(art, tmp / fmt)
            atomic_write_json(tmp / fmt / GATE_FILE, gates[fmt].to_dict(art.quantization))
        copy_golden(vectors, golden_folder, tmp / GOLDEN_DIR)
        atomic_write_json(tmp / SYNC_INDEX, index)
        atomic_write_text(tmp / "README.md", MODELS_README)
    return SyncResult(models_dir=models_dir, formats={fmt: art.folder for fmt, art in opened.items()}, golden_count=vectors.count)
