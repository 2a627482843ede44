"""The proof that the device harness stands alone: a fresh venv with only numpy and ai-edge-litert
(the versions pinned in pyproject.toml), the bundle run there pinned to one core under a memory cap,
with every import of TensorFlow, edgevit, Keras or psutil refused and logged.

Creating the venv takes ~20-30 s from pip's cache; it needs the package index (PyPI or a mirror).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from helpers.device import run_harness
from edgevit.cli import main
from edgevit.device.gates import golden_gate
from edgevit.records import validate_document

REPO = Path(__file__).resolve().parents[2]
MEMORY_CAP_BYTES = 512 * 2**20  # address space, not RSS: a Raspberry Pi Zero 2 has 512 MiB in all
FORBIDDEN = ("tensorflow", "edgevit", "keras", "tf_keras", "psutil", "jax", "torch")
IMPORT_GUARD = '''
import atexit, os, sys
FORBIDDEN = {forbidden!r}
LOG = os.environ["EDGEVIT_IMPORT_LOG"]
class Guard:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            with open(LOG, "a") as f:
                f.write("attempted " + name + "\\n")
            raise ImportError("the device harness must not import " + name)
sys.meta_path.insert(0, Guard())
@atexit.register
def _modules():
    with open(LOG + ".modules", "w") as f:
        f.write("\\n".join(sorted({{m.split(".")[0] for m in sys.modules}})))
'''


def _pins(*names: str) -> list[str]:
    text = (REPO / "pyproject.toml").read_text()
    pins = []
    for name in names:
        match = re.search(rf'"({re.escape(name)}==[^"]+)"', text)
        assert match, f"{name} is not pinned in pyproject.toml"
        pins.append(match.group(1))
    return pins


@pytest.fixture(scope="module")
def stripped_python(tmp_path_factory) -> str:
    """python of a new venv holding numpy and ai-edge-litert (and what they require), nothing else."""
    root = tmp_path_factory.mktemp("stripped") / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(root)
    python = str(root / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *_pins("numpy", "ai-edge-litert")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"pip could not build the stripped venv:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    probe = subprocess.run([python, "-c", "import importlib.util as u; print([m for m in ('tensorflow', 'edgevit', 'keras', 'psutil', 'onnxruntime') if u.find_spec(m)])"],
                           capture_output=True, text=True, env=env, cwd=root)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
    return python


def test_bundle_runs_standalone_on_one_core_under_a_memory_cap(tiny_tflite_and_golden, tmp_path, stripped_python):
    artifact, golden = tiny_tflite_and_golden
    bundle = tmp_path / "bundle"
    assert main(["device", "bundle", str(artifact), str(bundle), "--golden", str(golden), "--runs", "30"]) == 0
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(IMPORT_GUARD.format(forbidden=FORBIDDEN))
    log = tmp_path / "imports.log"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(guard), "EDGEVIT_IMPORT_LOG": str(log), "HOME": str(tmp_path)}
    prefix = ("taskset", "-c", "0", "prlimit", f"--as={MEMORY_CAP_BYTES}")
    assert shutil.which("taskset") and shutil.which("prlimit"), "needs util-linux's taskset and prlimit"

    code, document, output = run_harness(stripped_python, bundle, env=env, prefix=prefix)

    assert code == 0, output
    assert not log.exists(), log.read_text()  # nothing even tried to import TensorFlow/edgevit/psutil
    loaded = set(Path(str(log) + ".modules").read_text().split())
    third_party = loaded - set(sys.stdlib_module_names) - {"sitecustomize", "_distutils_hack", "__main__"}
    assert third_party == {"numpy", "ai_edge_litert", "harness"}, third_party
    assert validate_document(document) == []
    (record,) = document["records"]
    gate = golden_gate("tflite", "dynamic")
    parity = record["parity"]
    assert record["status"] == "ok" and parity["passed"] is True
    assert parity["gate"] == gate.to_dict("dynamic")
    assert 0 < parity["max_abs_diff"] <= gate.max_abs_error and parity["agreement"] >= gate.min_agreement
    assert parity["count"] == 12
    latency = record["latency"]
    assert latency["runs"] == 30 and len(latency["samples_ms"]) == 30 and all(s > 0 for s in latency["samples_ms"])
    assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p90_ms"] <= latency["p99_ms"]
    assert record["runtime"]["threads"] == 1 and record["runtime"]["details"]["cpu_affinity"] == [0]
    assert 0 < record["memory"]["peak_rss_bytes"] < MEMORY_CAP_BYTES
    assert record["tool_versions"]["ai-edge-litert"] == "2.3.0" and "tensorflow" not in json.dumps(record["tool_versions"])
