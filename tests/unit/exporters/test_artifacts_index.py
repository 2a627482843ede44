"""OUT/artifacts.json stays whole when several edgevit exports write into one OUT at once (issue 14)."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

from edgevit.exporters.jobs import INDEX_NAME, STATUS_FAILED, STATUS_OK, ExportResult, _Index

WRITERS, ARTIFACTS_EACH = 4, 12


@dataclass(frozen=True)
class _Source:
    folder: Path
    fingerprint: str = "f" * 64


def _result(name: str, status: str = STATUS_OK) -> ExportResult:
    return ExportResult(name=name, format="tflite", quantization="fp32", options={}, status=status, error=None,
                        exit_code=0, seconds=0.1, peak_rss_bytes=None, path=name)


def _writer(out: str, source: str, k: int) -> None:
    """One export process: its own artifact names, each recorded as it is built."""
    names = [f"w{k}-{i}" for i in range(ARTIFACTS_EACH)]
    index = _Index(Path(out), _Source(Path(source)), None, names)
    for name in names:
        (Path(out) / name).mkdir()  # as an export does: the artifact folder is in place before its entry
        index.record(_result(name))


def _listed(out: Path) -> list[str]:
    return [e["name"] for e in json.loads((out / INDEX_NAME).read_text())["artifacts"]]


def test_concurrent_exports_lose_no_entry(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(str(out), str(tmp_path / "sm"), k)) for k in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert sorted(_listed(out)) == sorted(f"w{k}-{i}" for k in range(WRITERS) for i in range(ARTIFACTS_EACH))


def test_interleaved_writers_keep_each_other_and_drop_only_what_was_stale(tmp_path):
    out, source = tmp_path / "out", _Source(tmp_path / "sm")
    out.mkdir()
    for name in ("kept", "a"):
        (out / name).mkdir()
    first = _Index(out, source, None, ["kept", "old-failure"])
    first.record(_result("kept"))
    first.record(_result("old-failure", STATUS_FAILED))
    a = _Index(out, source, None, ["a"])  # starts after them: "old-failure" is stale to it, "kept" is not
    b = _Index(out, source, None, ["b"])
    a.record(_result("a"))
    b.record(_result("b", STATUS_FAILED))  # a failure of a run going on at the same time is news, not stale
    a.record(_result("a"))
    assert _listed(out) == ["kept", "b", "a"]
