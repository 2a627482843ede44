"""Build several artifacts, each conversion in its own child process, and keep OUT/artifacts.json current.

Why a process per artifact: a converter's peak memory is the child's own high-water mark (so the
number recorded is honest), memory is returned to the OS between formats (ViT-L/32 conversions peak
at several GB each), and a crash or an OOM kill in one converter does not take the others down.
`export_all` continues past a failed artifact and reports each status; the caller decides the exit.

OUT/artifacts.json (written atomically after every artifact, so an interrupted run still tells the
truth, and merged under a lock, so two exports into one OUT keep each other's entries) lists each artifact of this source: name, format, options, status, error, wall time and peak
RSS of its process, file, size, sha256, the runtimes that load it and, when a recipe gave them, its parity gates.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgevit.errors import EdgeVitError, ExportError, UsageError
from edgevit.exporters.options import ExportOptions, default_name, make_options, options_to_dict, parity_note
from edgevit.formats import EXPORT_FORMATS, Format
from edgevit.fsutil import BadJson, atomic_write_json, load_json
from edgevit.manifest import now_iso, read_manifest
from edgevit.outputs import ARTIFACT, ARTIFACTS_INDEX, ARTIFACTS_ROOT, LOGS_DIR, Output, check_outputs
from edgevit.savedmodel.source import open_source

INDEX_NAME = ARTIFACTS_INDEX
STATUS_OK, STATUS_FAILED = "ok", "failed"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

logger = logging.getLogger(__name__)
# A child asked to stop gets this long to clean its temp folder before it is killed.
_STOP_GRACE_SECONDS = 30


@dataclass(frozen=True)
class ArtifactJob:
    """One artifact to build: its folder name under OUT, its format options and (from a recipe) its gates."""

    name: str
    options: ExportOptions
    gates: dict | None = None

    def __post_init__(self):
        if not _NAME.match(self.name) or self.name in (LOGS_DIR, INDEX_NAME):  # OUT/logs and OUT/artifacts.json are export's own
            raise UsageError(f"artifact name {self.name!r} must be letters, digits, '.', '_' or '-' (and not {LOGS_DIR!r} "
                             f"or {INDEX_NAME!r})")

    @property
    def format(self) -> Format:
        return self.options.format

    @classmethod
    def create(cls, fmt: Format | str, *, name: str | None = None, gates: dict | None = None, **options) -> "ArtifactJob":
        opts = make_options(fmt, options)
        return cls(name or default_name(opts), opts, gates)


@dataclass(frozen=True)
class ExportResult:
    name: str
    format: str
    quantization: str
    options: dict
    status: str  # "ok" | "failed"
    error: str | None  # one line when failed
    exit_code: int | None  # the child's: an edgevit exit code, or -N when killed by signal N
    seconds: float  # wall clock of the child process: Python start, imports, conversion, checks
    peak_rss_bytes: int | None  # the child's peak resident set size (getrusage of the waited child)
    path: str | None = None  # artifact folder, relative to OUT
    file: str | None = None  # main file, relative to OUT
    file_size: int | None = None
    sha256: str | None = None
    log: str | None = None  # the child's stdout and stderr, relative to OUT
    gates: dict | None = None
    parity_note: str | None = None
    loads_in: str | None = None  # the oldest runtimes that load it: its manifest's runtime_support summary

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


def default_jobs(formats: list[Format | str] | None = None) -> list[ArtifactJob]:
    """One artifact per format with that format's default options (tflite-dynamic, onnx-fp32, coreml-fp16)."""
    return [ArtifactJob.create(fmt) for fmt in (formats or EXPORT_FORMATS)]


def export_all(
    *,
    saved_model: Path | str,
    out_dir: Path | str,
    recipe=None,
    jobs: list[ArtifactJob] | None = None,
    formats: list[Format | str] | None = None,
) -> list[ExportResult]:
    """Build every job (a recipe's, the given ones, or one default per format), each in a child process.

    `recipe` is a loaded Recipe (edgevit.recipes.load_recipe: recipes sit above exporters); `formats` keeps only those formats' jobs. Bad
    input (not a SavedModel, several signatures, no fixed size, unwritable OUT) raises before any child starts.
    Progress is logged (INFO): a line as each artifact starts and its summary line when it ends.
    """
    jobs = _select_jobs(recipe=recipe, jobs=jobs, formats=formats)
    source = open_source(saved_model)
    out_dir = Path(out_dir)
    _check_out(out_dir, jobs, inputs=[source.folder, getattr(recipe, "path", None),
                                      *(getattr(job.options, "data", None) for job in jobs)])
    logs = _prepare_out(out_dir)
    index = _Index(out_dir, source, recipe, [j.name for j in jobs])
    results = []
    with _terminate_as_interrupt():
        for k, job in enumerate(jobs, 1):
            note = parity_note(job.options)
            logger.info(f"[{k}/{len(jobs)}] {job.name}: building ({_describe(job)})" + (f"; note: {note}" if note else ""))
            result = _run_child(job, source.folder, out_dir, logs / f"{job.name}.log", note)
            results.append(result)
            index.record(result)
            logger.info(_summary_line(result))
    return results


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM behaves like Ctrl-C while children run: the running child is stopped and cleaned up, not orphaned."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _select_jobs(*, recipe, jobs, formats) -> list[ArtifactJob]:
    if recipe is not None and jobs is not None:
        raise UsageError("give a recipe or a list of jobs, not both")
    if recipe is not None:
        jobs = list(recipe.jobs)
    if jobs is None:
        return default_jobs(formats)
    if formats:
        from edgevit.exporters.options import parse_format

        wanted = {parse_format(f) for f in formats}
        jobs = [j for j in jobs if j.format in wanted]
    if not jobs:
        raise UsageError("nothing to export: no artifact matches the requested format(s)")
    names = [j.name for j in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"artifact name(s) {', '.join(duplicates)} appear more than once; give each artifact its own name")
    return jobs


def _check_out(out_dir: Path, jobs: list[ArtifactJob], inputs: list) -> None:
    """OUT is new, empty or an artifacts folder, holds none of the inputs; each OUT/<name> is new or an artifact."""
    check_outputs([Output("--out", out_dir, ARTIFACTS_ROOT, replace=False)], inputs=inputs)
    check_outputs([Output("--out", out_dir / job.name, ARTIFACT) for job in jobs], inputs=inputs)


def _prepare_out(out_dir: Path) -> Path:
    """Create OUT and OUT/logs, and prove OUT is writable, before any conversion starts."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        logs = out_dir / LOGS_DIR
        logs.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ExportError(f"{out_dir}: cannot write the output folder ({exc.strerror or exc}); pick a writable --out") from None
    return logs


def _describe(job: ArtifactJob) -> str:
    """format, quantization and the options that differ from the format's defaults."""
    defaults = options_to_dict(type(job.options)())
    chosen = {k: v for k, v in options_to_dict(job.options).items() if k == "quantization" or defaults.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in {"format": job.format.value, **chosen}.items())


def _run_child(job: ArtifactJob, saved_model: Path, out_dir: Path, log: Path, note: str | None) -> ExportResult:
    """Run one export in `python -m edgevit.exporters.worker`; its peak RSS comes from wait4's rusage."""
    with tempfile.TemporaryDirectory(prefix="edgevit-export-") as scratch:
        job_file, result_file = Path(scratch) / "job.json", Path(scratch) / "result.json"
        job_file.write_text(json.dumps({
            "format": job.format.value, "name": job.name, "options": options_to_dict(job.options),
            "saved_model": str(saved_model), "out_dir": str(out_dir),
        }))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        started = time.perf_counter()
        command = [sys.executable, "-m", "edgevit.exporters.worker", str(job_file), str(result_file)]
        logger.debug(f"{job.name}: {' '.join(command)} (its output: {log})")
        with open(log, "w") as log_file:
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env)
            try:
                exit_code, peak = _wait(child)
            except KeyboardInterrupt:
                _stop(child)
                _remove_leftovers(out_dir, job.name, child.pid)
                raise
        seconds = time.perf_counter() - started
        _remove_leftovers(out_dir, job.name, child.pid)
        reported = json.loads(result_file.read_text()) if result_file.is_file() else {}
    # The worker's own VmHWM; wait4's ru_maxrss (a killed child's only figure) includes our RSS at fork time.
    peak = reported.get("peak_rss_bytes", peak)
    common = dict(
        name=job.name, format=job.format.value, quantization=job.options.quantization.value, options=options_to_dict(job.options),
        exit_code=exit_code, seconds=round(seconds, 2), peak_rss_bytes=peak, log=str(log.relative_to(out_dir)),
        gates=job.gates, parity_note=note,
    )
    if exit_code == 0 and reported.get("status") == STATUS_OK:
        manifest = read_manifest(out_dir / job.name)
        return ExportResult(status=STATUS_OK, error=None, path=job.name, file=f"{job.name}/{manifest['file']}",
                            file_size=manifest["file_size"], sha256=manifest["sha256"],
                            loads_in=(manifest.get("runtime_support") or {}).get("summary"), **common)
    return ExportResult(status=STATUS_FAILED, error=reported.get("error") or _death(exit_code, log), **common)


def _wait(child: subprocess.Popen) -> tuple[int, int]:
    """(exit code, peak RSS in bytes) of the child; -N when it was killed by signal N."""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for a reaped child
    return child.returncode, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def _stop(child: subprocess.Popen) -> None:
    """Ask the child to stop (SIGINT lets its atomic folder clean up), then kill it if it does not."""
    if child.returncode is not None:
        return
    child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=_STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _remove_leftovers(out_dir: Path, name: str, pid: int) -> None:
    """What a killed child's atomic folder could not clean: its temp sibling (edgevit.fsutil names it
    `.<name>.tmp-<pid>`), and the previous artifact if the kill came between its two renames."""
    shutil.rmtree(out_dir / f".{name}.tmp-{pid}", ignore_errors=True)
    old = out_dir / f".{name}.old-{pid}"
    if old.exists():
        if (out_dir / name).exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, out_dir / name)


def _death(exit_code: int, log: Path) -> str:
    if exit_code < 0:
        name = signal.Signals(-exit_code).name if -exit_code in signal.Signals._value2member_map_ else str(-exit_code)
        hint = " (out of memory?)" if -exit_code == signal.SIGKILL else ""
        return f"the converter process was killed by {name}{hint}; see {log}"
    return f"the converter process exited with code {exit_code} without a result; see {log}"


def _summary_line(result: ExportResult) -> str:
    measured = f"{result.seconds:.1f} s wall clock and peak RSS {_gib(result.peak_rss_bytes)} for its process"
    if result.ok:
        loads_in = f"; loads in {result.loads_in}" if result.loads_in else ""
        return f"  ok      {result.name}: {result.file} ({result.file_size / 1e6:.1f} MB){loads_in}; {measured}"
    return f"  FAILED  {result.name}: {result.error} ({measured}; log {result.log})"


def _gib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**30:.2f} GiB"


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive flock on the folder itself: edgevit processes exporting into one OUT take turns at its
    index (the lock goes with the file descriptor, so nothing is left behind, even by a killed process)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass
class _Index:
    """OUT/artifacts.json: this run's entries replace same-named ones; other entries of the same source stay.

    Every write re-reads the file and merges under a lock, so an export running at the same time into
    the same OUT keeps its entries. Entries already stale when this run started (failed, or their folder
    gone) are dropped, as before.
    """

    out_dir: Path
    source: object
    recipe: object
    names: list[str]
    entries: dict = field(default_factory=dict)  # this run's, by name

    def __post_init__(self):
        self.fingerprint = self.source.fingerprint
        self.path = self.out_dir / INDEX_NAME
        with _locked(self.out_dir):
            self.stale = {e["name"] for e in self._read_previous()
                          if e.get("status") != STATUS_OK or not (self.out_dir / e["name"]).is_dir()}
            self._write()  # from the start, so OUT is recognisable as an artifacts folder even if this run is cut short

    def _read_previous(self) -> list[dict]:
        try:
            data = load_json(self.path)
        except (OSError, BadJson):
            return []
        if not isinstance(data, dict) or (data.get("source") or {}).get("fingerprint") != self.fingerprint:
            return []  # another model's artifacts: not listed as this one's
        return [e for e in data.get("artifacts", []) if isinstance(e, dict) and isinstance(e.get("name"), str)]

    def record(self, result: ExportResult) -> None:
        self.entries[result.name] = asdict(result)
        with _locked(self.out_dir):
            self._write()

    def _write(self) -> None:
        """Read-merge-write; the caller holds the lock."""
        others = [e for e in self._read_previous() if e["name"] not in self.names and e["name"] not in self.stale]
        recipe = self.recipe
        atomic_write_json(self.path, {
            "schema_version": 1,
            "kind": "artifacts",
            "updated": now_iso(),
            "source": {"saved_model": str(Path(self.source.folder).resolve()), "fingerprint": self.fingerprint},
            "recipe": None if recipe is None else {"name": recipe.name, "path": str(recipe.path)},
            "artifacts": [*others, *self.entries.values()],
        })


def raise_for_failures(results: list[ExportResult]) -> None:
    """One EdgeVitError line for the caller's exit: the child's own error when one artifact was asked for."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return
    if len(results) == 1:
        error = EdgeVitError(f"{failed[0].name}: {failed[0].error}")
        error.exit_code = failed[0].exit_code if failed[0].exit_code and failed[0].exit_code > 0 else ExportError.exit_code
        raise error
    raise ExportError(f"{len(failed)} of {len(results)} artifacts failed: {', '.join(r.name for r in failed)} (see above)")
