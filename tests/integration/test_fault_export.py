"""Fault injection on export: a killed export and a full disk never leave a partial or stale artifact.

Both run the real `edgevit export` in its own process: SIGKILL (no cleanup handlers) at several
moments of a re-export over a finished artifact, and a 600 KiB tmpfs that fills mid-write.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgevit.fsutil import sha256_file

ARTIFACT = "tflite-fp32"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _export_cmd(saved_model: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "edgevit", "export", str(saved_model), "--out", str(out), "--format", "tflite", "--quantization", "fp32"]


def _snapshot(out: Path) -> dict[str, str]:
    """sha256 of every visible file under out/ (hidden temp folders are not artifacts)."""
    return {str(p.relative_to(out)): sha256_file(p) for p in sorted(out.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)}


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> tuple[Path, float]:
    """The finished artifacts and how long that whole export took (wall seconds), to aim the kills."""
    out = tmp_path_factory.mktemp("faults") / "artifacts"
    started = time.perf_counter()
    proc = subprocess.run(_export_cmd(tiny_run.saved_model, out), capture_output=True, text=True, env=ENV, timeout=600)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / ARTIFACT / "model.tflite").is_file()
    return out, seconds


# Kill early (imports), midway (conversion) and late (checks, writing, renaming): fractions of the
# measured export time, so the moments hold on fast and slow machines alike.
@pytest.mark.parametrize("kill_at", [0.15, 0.5, 0.9])
def test_killed_re_export_keeps_the_previous_artifact(tiny_run, exported, tmp_path, kill_at):
    finished_artifacts, export_seconds = exported
    kill_after_s = kill_at * export_seconds
    out = tmp_path / "artifacts"
    shutil.copytree(finished_artifacts, out)
    before = _snapshot(out)
    manifest_before = json.loads((out / ARTIFACT / "manifest.json").read_text())
    proc = subprocess.Popen(_export_cmd(tiny_run.saved_model, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=ENV, start_new_session=True)
    time.sleep(kill_after_s)
    finished = proc.poll() is not None
    if not finished:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its converter child, mid-flight
    proc.wait()
    after = _snapshot(out)
    if finished:
        pytest.skip(f"the export finished within {kill_after_s:.1f} s ({kill_at:.0%} of its first run): nothing was interrupted")
    # Either the old artifact, byte for byte, or a complete new one (the kill came after its rename):
    # never a partial model, never a manifest describing another file.
    manifest = json.loads((out / ARTIFACT / "manifest.json").read_text())
    assert set(after) == set(before), set(after) ^ set(before)
    if manifest != manifest_before:
        assert manifest["created"] >= manifest_before["created"]
    assert after[f"{ARTIFACT}/model.tflite"] == manifest["sha256"]
    json.loads((out / "artifacts.json").read_text())  # still whole JSON


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs `unshare -rm` and tmpfs mounts (user namespaces) to fill a disk")
def test_full_disk_is_a_clear_error_and_leaves_no_partial_file(tiny_run, tmp_path):
    size_kib = 600  # the fp32 tiny model is ~2.2 MB: the disk fills mid-write
    script = (
        f"mount -t tmpfs -o size={size_kib}k tmpfs /mnt && "
        f"{' '.join(map(repr, _export_cmd(tiny_run.saved_model, Path('/mnt/out'))))}; "
        "echo EXIT=$?; find /mnt -type f -printf 'FILE %P %s\\n'"
    )
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=ENV, timeout=600)
    exit_code = int(proc.stdout.split("EXIT=")[1].split()[0])
    files = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("FILE ")]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edgevit:")]
    assert exit_code != 0
    assert errors and any("disk full" in e or "No space" in e for e in errors), proc.stderr[-2000:]
    assert not [f for f in files if f.endswith(".tflite")], files  # no partial model anywhere, hidden temp folders included
    assert not (f"{ARTIFACT}/manifest.json" in files)
