"""The one rule for every path edgevit writes, checked before any work starts.

1. An output folder is absent, empty, or a folder edgevit wrote for the same purpose (its kind,
   recognised by the index file every folder of that kind holds: golden.json, a manifest.json of kind
   "artifact", artifacts.json, train_state.json, bundle.json, sync.json, records.json + report.md).
   It is replaced only when it holds nothing edgevit did not write there.
2. An output file is absent or a file of the same kind (a records file, a verify JSON file).
3. An output never is, holds or lies inside one of the command's inputs, nor another of its outputs.
4. The folder that will hold an output is writable (proved by creating and removing a temp file).

Anything else is a UsageError (exit 2): one line saying what is there and what to do. Commands call
`check_outputs` with everything they will write and read before they start; the writers call
`replace_dir` / `prepare_dir`, which check again, so a library caller gets the same protection.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from edgevit.config import LABELS_NAME, MANIFEST_NAME
from edgevit.errors import UsageError
from edgevit.formats import REFERENCE_FORMAT
from edgevit.fsutil import BadJson, atomic_dir, is_within, load_json

from edgevit.portable import BUNDLE_INDEX
from edgevit.portable.golden import GOLDEN_INDEX

# The index files of the kinds whose writers sit above this module (tests/unit/test_outputs.py checks they agree).
ARTIFACTS_INDEX = "artifacts.json"
RUN_INDEX = "train_state.json"
IMPORT_INDEX = "import.json"  # what `edgevit import` read and the options it was given
SYNC_INDEX = "sync.json"
DEMO_INDEX = "data.json"  # the demo's first file: the options its synthetic birds were drawn with
REPORT_RECORDS, REPORT_MARKDOWN, REPORT_HTML = "records.json", "report.md", "report.html"
LOGS_DIR = "logs"
# What tf.saved_model.save writes, beside edgevit's manifest.json and labels.txt.
SAVED_MODEL_FILES = frozenset({"saved_model.pb", "variables", "assets", "fingerprint.pb", MANIFEST_NAME, LABELS_NAME})
_SHOWN = 3  # names listed in a message before "..."


def _json_object(path: Path) -> dict | None:
    try:
        data = load_json(path)
    except (OSError, BadJson):
        return None
    return data if isinstance(data, dict) else None


def _manifest_kind(folder: Path) -> str | None:
    manifest = _json_object(folder / MANIFEST_NAME)
    return None if manifest is None else manifest.get("kind")


def _top_name(relative) -> str | None:
    """The first component of a relative name a manifest or index gives (None when it is not one)."""
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        return None
    return Path(relative).parts[0]


@dataclass(frozen=True)
class FolderKind:
    """A folder edgevit writes: how to recognise one, and which top-level names it writes there.

    `written(folder)` is None for a folder edgevit only writes into (a training run): it is never replaced.
    """

    title: str  # with its article: "a golden vectors folder"
    recognise: Callable[[Path], bool]
    written: Callable[[Path], set[str]] | None = None

    def strays(self, folder: Path) -> list[str]:
        """Names in `folder` that edgevit did not write there (what replacing it would destroy)."""
        if self.written is None:
            return []
        ours = self.written(folder)
        return sorted(p.name for p in folder.iterdir() if p.name not in ours)


@dataclass(frozen=True)
class FileKind:
    title: str
    recognise: Callable[[Path], bool]


def _golden_written(folder: Path) -> set[str]:
    index = _json_object(folder / GOLDEN_INDEX) or {}
    return {GOLDEN_INDEX, *filter(None, (_top_name(index.get("inputs_file")), _top_name(index.get("outputs_file"))))}


def _artifact_written(folder: Path) -> set[str]:
    manifest = _json_object(folder / MANIFEST_NAME) or {}
    external = (manifest.get("conversion") or {}).get("external_data") if isinstance(manifest.get("conversion"), dict) else None
    return {MANIFEST_NAME, LABELS_NAME, *filter(None, (_top_name(manifest.get("file")), _top_name(external)))}


def _artifacts_root_written(folder: Path) -> set[str]:
    """artifacts.json, logs/, golden/ and the artifact folders (each of which must hold only its own files)."""
    names = {ARTIFACTS_INDEX, LOGS_DIR}
    for child in folder.iterdir():
        for kind in (ARTIFACT, GOLDEN):
            if child.is_dir() and kind.recognise(child) and not kind.strays(child):
                names.add(child.name)
    return names


def _is_golden(folder: Path) -> bool:
    index = _json_object(folder / GOLDEN_INDEX)
    return index is not None and "inputs_file" in index and "outputs_file" in index


def _is_records(path: Path) -> bool:
    document = _json_object(path)
    return document is not None and isinstance(document.get("records"), list) and "schema_version" in document


def _is_report(folder: Path) -> bool:
    return _is_records(folder / REPORT_RECORDS) and (folder / REPORT_MARKDOWN).is_file()


GOLDEN = FolderKind("a golden vectors folder", _is_golden, _golden_written)
ARTIFACT = FolderKind("an artifact folder", lambda f: _manifest_kind(f) == "artifact", _artifact_written)
SAVED_MODEL = FolderKind("a SavedModel folder", lambda f: _manifest_kind(f) == REFERENCE_FORMAT.value, lambda f: set(SAVED_MODEL_FILES))
ARTIFACTS_ROOT = FolderKind("an artifacts folder (the --out of `edgevit export`)",
                            lambda f: (_json_object(f / ARTIFACTS_INDEX) or {}).get("kind") == "artifacts", _artifacts_root_written)
RUN = FolderKind("a training run", lambda f: (f / RUN_INDEX).is_file(),
                 lambda f: {RUN_INDEX, "history.json", "checkpoints", "saved_model"})
# Written into, like a training run: a new import replaces saved_model/ and import.json, and leaves the
# artifacts, records and reports the user made beside them.
IMPORTED = FolderKind("an imported model folder (the --out of `edgevit import`)", lambda f: (f / IMPORT_INDEX).is_file())
BUNDLE = FolderKind("an edgevit bundle", lambda f: (f / BUNDLE_INDEX).is_file(),
                    lambda f: {"run.py", "harness", BUNDLE_INDEX, "artifact", "golden", "README.md"})
REPORT = FolderKind("a report folder", _is_report, lambda f: {REPORT_RECORDS, REPORT_MARKDOWN, REPORT_HTML})
LAYERS_INDEX, LAYERS_MARKDOWN, LAYERS_HTML = "layers.json", "layers.md", "layers.html"
LAYERS_REPORT = FolderKind("a layer report folder (the --out of `edgevit debug layers`)",
                           lambda f: (_json_object(f / LAYERS_INDEX) or {}).get("kind") == "layers",
                           lambda f: {LAYERS_INDEX, LAYERS_MARKDOWN, LAYERS_HTML})
DEMO = FolderKind("a demo folder (the --out of `edgevit demo`)", lambda f: (f / DEMO_INDEX).is_file())  # written into
DATA = FolderKind("a data set", lambda f: False)  # drawn only into a new or empty folder

def bundle_zip_path(folder: Path | str) -> Path:
    """Where `edgevit device bundle --zip` puts the zip of the bundle folder FOLDER: FOLDER.zip beside it."""
    folder = Path(folder)
    return folder.with_name(folder.name + ".zip")


def _is_bundle_zip(path: Path) -> bool:
    """A zip of one bundle: every entry under NAME/ (for NAME.zip), NAME/bundle.json among them."""
    folder = path.name.removesuffix(".zip")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return f"{folder}/{BUNDLE_INDEX}" in names and all(n.startswith(f"{folder}/") for n in names)


RECORDS = FileKind("a records file", _is_records)
BUNDLE_ZIP = FileKind("a bundle zip written by `edgevit device bundle --zip`", _is_bundle_zip)
# The .npz entry `edgevit weights import` records its architecture in (edgevit.weights.convert.IMPORT_KEY).
WEIGHTS_IMPORT_MEMBER = "edgevit/import.npy"


def _is_weights_import(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return WEIGHTS_IMPORT_MEMBER in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


WEIGHTS_NPZ = FileKind("a weights file written by `edgevit weights import`", _is_weights_import)
VERIFY_JSON = FileKind("a verify results file", lambda p: (_json_object(p) or {}).get("kind") == "verify")


def artifact_inputs(paths: Iterable[Path | str | None]) -> list[Path]:
    """The artifact folders a command reads: each path that is one, and those inside each path that holds them.
    (An artifacts folder itself is not an input: golden vectors and records conventionally go beside the artifacts.)"""
    found = []
    for path in (Path(p) for p in paths if p is not None):
        if (path / MANIFEST_NAME).is_file() or not path.is_dir():
            found.append(path)
        else:
            found += [child for child in path.iterdir() if (child / MANIFEST_NAME).is_file()]
    return found


def ios_models_kind(formats: Iterable[str]) -> FolderKind:
    """The iOS app's Models folder: an earlier sync, or the app's placeholder README alone."""
    names = {SYNC_INDEX, "README.md", "golden", *formats}
    return FolderKind("the iOS app's Models folder",
                      lambda f: (f / SYNC_INDEX).is_file() or {p.name for p in f.iterdir()} <= {"README.md"},
                      lambda f: names)


@dataclass(frozen=True)
class Output:
    """One path a command writes: the option that named it (for the message), the path and its kind."""

    flag: str | None
    path: Path | str | None
    kind: FolderKind | FileKind
    replace: bool = True  # False: the command writes into the folder and never removes what else is there


def _named(output: Output) -> str:
    return f"{output.flag} {output.path}" if output.flag else str(output.path)


def _listing(names: list[str]) -> str:
    return ", ".join(names[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")


def check_outputs(outputs: Iterable[Output], *, inputs: Iterable[Path | str | None] = ()) -> None:
    """Every rule above for `outputs` (entries whose path is None are skipped); UsageError at the first broken one."""
    outputs = [o for o in outputs if o.path is not None]
    inputs = [Path(p) for p in inputs if p is not None]
    for output in outputs:
        _check_against_inputs(output, inputs)
    for i, first in enumerate(outputs):
        for second in outputs[i + 1:]:
            if is_within(first.path, second.path) or is_within(second.path, first.path):
                raise UsageError(f"{_named(first)} and {_named(second)} are the same path or one holds the other; "
                                 "give each output its own path")
    for output in outputs:
        _check_kind(output)
        _check_writable(output)


def _check_against_inputs(output: Output, inputs: list[Path]) -> None:
    path = Path(output.path)
    for source in inputs:
        if not source.exists():
            continue
        if is_within(path, source):
            where = "is" if path.resolve() == source.resolve() else "is inside"
            raise UsageError(f"{_named(output)}: {where} the input {source}; pick an output path elsewhere")
        if is_within(source, path):
            raise UsageError(f"{_named(output)}: holds the input {source}; pick an output path elsewhere")


def _check_kind(output: Output) -> None:
    path, kind = Path(output.path), output.kind
    if not path.exists() and not path.is_symlink():
        return
    if isinstance(kind, FileKind):
        if path.is_dir():
            raise UsageError(f"{_named(output)}: is a folder; pass the path of {kind.title}")
        if not kind.recognise(path):
            raise UsageError(f"{_named(output)}: exists and is not {kind.title}; pick another path or move that file away")
        return
    if not path.is_dir():
        raise UsageError(f"{_named(output)}: is a file, not a folder; pick a new or empty folder")
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return
    if not kind.recognise(path):
        raise UsageError(f"{_named(output)}: holds files edgevit did not write ({_listing(entries)}), it is not "
                         f"{kind.title}; pick a new or empty folder")
    strays = kind.strays(path) if output.replace else []
    if strays:
        raise UsageError(f"{_named(output)}: holds files edgevit did not write there ({_listing(strays)}); "
                         "move them away or pick another folder")


def _check_writable(output: Output) -> None:
    """Create and remove a temp file where the output goes: in the nearest folder that exists above it
    (atomic writes put a temp sibling there), and inside an existing output folder."""
    path = Path(output.path)
    places = [path.parent]
    if isinstance(output.kind, FolderKind) and path.is_dir():
        places.append(path)
    for place in places:
        existing = place
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise UsageError(f"{_named(output)}: {existing} is a file, not a folder; pick another path")
        try:
            with tempfile.NamedTemporaryFile(dir=existing, prefix=".edgevit-write-test-"):
                pass
        except OSError as exc:
            raise UsageError(f"{_named(output)}: cannot write in {existing} ({exc.strerror or exc}); pick a writable path") from None


@contextlib.contextmanager
def replace_dir(path: Path | str, kind: FolderKind, *, flag: str | None = None, inputs: Iterable[Path | str | None] = ()) -> Iterator[Path]:
    """edgevit.fsutil.atomic_dir for a folder of `kind`, after the rule allows replacing what is there."""
    if kind.written is None:
        raise ValueError(f"{kind.title} is written into, never replaced")  # a bug in the caller
    check_outputs([Output(flag, path, kind)], inputs=inputs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(path) as tmp:
        yield tmp


def prepare_dir(path: Path | str, kind: FolderKind, *, flag: str | None = None, inputs: Iterable[Path | str | None] = ()) -> Path:
    """Check `path` as an output folder of `kind`, then create it: for folders edgevit writes into."""
    check_outputs([Output(flag, path, kind, replace=False)], inputs=inputs)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_dir(path: Path | str, kind: FolderKind, *, flag: str | None = None) -> None:
    """Delete a folder edgevit wrote (the demo starts its stages afresh); never one holding anything else."""
    path = Path(path)
    if not path.exists():
        return
    check_outputs([Output(flag, path, kind)])
    shutil.rmtree(path)
