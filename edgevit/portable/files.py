"""Read a bundle's index and manifest, resolve every path they name strictly inside the bundle, check sha256."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from . import BUNDLE_INDEX, BUNDLE_SCHEMA_VERSION
from .errors import EXIT_BUNDLE, HarnessError


@dataclass(frozen=True)
class Bundle:
    root: Path
    index: dict  # bundle.json
    manifest: dict  # the artifact's manifest.json
    model_path: Path
    golden_dir: Path

    @property
    def gate(self) -> dict:
        return self.index["gate"]

    @property
    def defaults(self) -> dict:
        return self.index.get("defaults") or {}


def path_inside(root: Path, relative: str) -> Path | None:
    """root/relative resolved (through '..' and symlinks) if it stays inside root (or is root), else None.

    Manifests and bundle indexes are user input: a name like '../../secret' or '/etc/passwd' must
    not make edgevit or the harness read or write outside the folder that holds it.
    """
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        return None
    path = (Path(root) / relative).resolve()
    return path if is_within(path, root) else None


def is_within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies below it, once both are resolved (through '..' and symlinks)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def inside(root: Path, relative: str, what: str) -> Path:
    """`root/relative` as path_inside finds it; HarnessError naming `what` when it is not inside the bundle."""
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        raise HarnessError(f"{what} {relative!r} is not a relative path inside the bundle; re-create the bundle", exit_code=EXIT_BUNDLE)
    path = path_inside(root, relative)
    if path is None:
        raise HarnessError(f"{what} {relative!r} points outside the bundle; re-create the bundle", exit_code=EXIT_BUNDLE)
    return path


class BadJson(ValueError):
    """A file that is not UTF-8 JSON; str() says why, without the path (each caller adds it and what to do)."""


# Far above any JSON edgevit writes (a records file with every latency sample of a long bench is a few MB),
# far below what would exhaust a device's memory when read whole.
MAX_JSON_BYTES = 64 * 2**20


def load_json(path: Path):
    """The parsed JSON of `path` (every JSON file edgevit reads, host and device); BadJson when it is not
    valid UTF-8 JSON, is larger than MAX_JSON_BYTES or nests too deeply to parse. OSError (a missing
    file) passes through."""
    size = Path(path).stat().st_size
    if size > MAX_JSON_BYTES:
        raise BadJson(f"not a JSON file edgevit wrote ({size:,} bytes; edgevit reads at most {MAX_JSON_BYTES:,})")
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadJson(f"not valid JSON ({exc})") from None
    except RecursionError:  # json's C parser recurses per nesting level
        raise BadJson("not valid JSON (nested too deeply to read)") from None


def read_json(path: Path, what: str) -> dict:
    try:
        data = load_json(path)
    except FileNotFoundError:
        raise HarnessError(f"{path}: {what} is missing; re-create the bundle with `edgevit device bundle`", exit_code=EXIT_BUNDLE) from None
    except BadJson as exc:
        raise HarnessError(f"{path}: {what} is {exc}; re-create the bundle", exit_code=EXIT_BUNDLE) from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: {what} must be a JSON object; re-create the bundle", exit_code=EXIT_BUNDLE)
    return data


def open_bundle(root: Path) -> Bundle:
    root = Path(root)
    index = read_json(root / BUNDLE_INDEX, BUNDLE_INDEX)
    version = index.get("schema_version")
    if version != BUNDLE_SCHEMA_VERSION:
        raise HarnessError(
            f"{root / BUNDLE_INDEX}: bundle schema version {version!r}, this harness reads {BUNDLE_SCHEMA_VERSION}; "
            "re-create the bundle with the same edgevit", exit_code=EXIT_BUNDLE)
    for key in ("artifact_dir", "golden_dir", "gate"):
        if key not in index:
            raise HarnessError(f"{root / BUNDLE_INDEX}: missing {key!r}; re-create the bundle", exit_code=EXIT_BUNDLE)
    artifact_dir = inside(root, index["artifact_dir"], "artifact_dir")
    manifest = read_json(artifact_dir / "manifest.json", "the artifact's manifest.json")
    for key in ("format", "quantization", "file", "sha256", "labels", "preprocessing"):
        if key not in manifest:
            raise HarnessError(f"{artifact_dir / 'manifest.json'}: missing {key!r}; re-export the artifact", exit_code=EXIT_BUNDLE)
    model_path = inside(artifact_dir, manifest["file"], "the manifest's model file")
    if not model_path.is_file():
        raise HarnessError(f"{model_path}: model file missing from the bundle; re-create the bundle", exit_code=EXIT_BUNDLE)
    golden_dir = inside(root, index["golden_dir"], "golden_dir")
    return Bundle(root=root, index=index, manifest=manifest, model_path=model_path, golden_dir=golden_dir)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(folder: Path) -> str:
    """One sha256 for a folder (a Core ML .mlpackage): over a line `<relative path>\\0<size>\\0<sha256>\\n` per
    file, sorted by POSIX relative path. A re-export that changes any file, adds or removes one changes it."""
    folder = Path(folder)
    digest = hashlib.sha256()
    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    for relative, path in files:
        digest.update(f"{relative}\0{path.stat().st_size}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def check_sha256(bundle: Bundle) -> str:
    """The model file's sha256; HarnessError when it is not the one the manifest recorded (a damaged copy)."""
    actual = sha256_file(bundle.model_path)
    expected = bundle.manifest["sha256"]
    if actual != expected:
        raise HarnessError(
            f"{bundle.model_path.name}: sha256 {actual[:12]}... does not match the manifest's {str(expected)[:12]}...; "
            "the file was damaged in transfer: copy the bundle again", exit_code=EXIT_BUNDLE)
    return actual
