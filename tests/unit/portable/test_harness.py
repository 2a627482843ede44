"""Unit checks of the device harness's parts: it imports nothing but numpy, stdlib and one runtime, and
its statistics, parity and machine fingerprint agree with the host's."""

from __future__ import annotations

import ast
import sys

import numpy as np
import pytest

from edgevit.device import ENTRY_SCRIPT, HARNESS_PACKAGE
from edgevit.portable import machine as device_machine
from edgevit.portable.parity import golden_parity
from edgevit.portable.runtimes import RUNTIMES_FOR_FORMAT
from edgevit.portable.timing import latency_block, percentile, throughput_entry

RUNTIME_MODULES = {"ai_edge_litert.interpreter", "tflite_runtime.interpreter", "onnxruntime"}


def _imports(path):
    """(top-level module names imported, names passed to importlib.import_module) in one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules, dynamic = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            arg = node.args[0]
            assert isinstance(arg, ast.Constant), f"{path.name}: import_module with a computed name"
            dynamic.add(arg.value)
    return modules, dynamic


def test_harness_imports_only_stdlib_numpy_and_itself():
    files = sorted(HARNESS_PACKAGE.glob("*.py")) + [ENTRY_SCRIPT]
    allowed = set(sys.stdlib_module_names) | {"numpy", "harness"}
    dynamic_all = set()
    for path in files:
        modules, dynamic = _imports(path)
        assert modules <= allowed, f"{path.name} imports {sorted(modules - allowed)}"
        dynamic_all |= dynamic
    # Runtimes are imported by name, only when asked for, and only these.
    assert dynamic_all == RUNTIME_MODULES


def test_harness_catches_a_forbidden_import(tmp_path):
    """The check above can fail: a file importing tensorflow or edgevit is flagged."""
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\nfrom edgevit.manifest import read_manifest\nimport tensorflow as tf\n")
    modules, _ = _imports(bad)
    assert modules - (set(sys.stdlib_module_names) | {"numpy"}) == {"edgevit", "tensorflow"}


def test_every_format_with_a_runtime_names_an_allowed_module():
    assert set(RUNTIMES_FOR_FORMAT) == {"tflite", "onnx"}


def test_percentile_and_summary_match_numpy_and_the_host():
    import edgevit.bench.measure
    import edgevit.bench.peak
    import edgevit.bench.run
    from edgevit.portable import timing

    # The host measures with the harness's own code: a device figure and a host figure are comparable.
    assert edgevit.bench.run.latency_block is timing.latency_block and edgevit.bench.measure.throughput_entry is timing.throughput_entry
    assert edgevit.bench.measure.time_calls is timing.time_calls and edgevit.bench.peak.percentile is timing.percentile
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 50, 101):
        samples = list(rng.exponential(3.0, n))
        for q in (0, 50, 90, 99, 100):
            assert percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)), rel=1e-12)
        block = latency_block(samples, batch=1, warmup=2)
        assert block["samples_ms"] == samples and block["runs"] == n and block["p50_ms"] == percentile(samples, 50)
        assert block["min_ms"] == min(samples) and block["max_ms"] == max(samples)
        entry = throughput_entry(samples, batch=4, warmup=1)
        assert entry["images_per_second"] == pytest.approx(4 * n / (sum(samples) / 1e3), rel=1e-12)
    assert throughput_entry([2.0, 2.0], batch=8, warmup=0)["images_per_second"] == 4000.0


def test_parity_numbers_and_gate():
    reference = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1]], np.float32)
    ours = reference.copy()
    ours[3] = [0.42, 0.48, 0.10]  # flips the last one, max diff 0.08
    gate = {"quantization": "dynamic", "max_abs_error": 0.05, "min_agreement": 0.9}
    block, failures = golden_parity(ours, reference, np.array([0, 1, 2, 1]), gate=gate, reference_runtime="savedmodel")
    assert block["agreement"] == 0.75 and block["flips"] == 1
    assert block["max_abs_diff"] == pytest.approx(0.08, abs=1e-6)
    assert block["accuracy"] == 1.0 and block["reference_accuracy"] == 0.75
    assert block["passed"] is False and len(failures) == 2
    block, failures = golden_parity(reference, reference, None, gate=gate, reference_runtime="savedmodel")
    assert block["passed"] is True and failures == [] and block["accuracy"] is None and block["max_abs_diff"] == 0.0
    # A float-format gate (no min_agreement) judges the probabilities only: the flip alone does not fail it.
    block, failures = golden_parity(ours, reference, None, gate={"max_abs_error": 0.1, "min_agreement": None},
                                    reference_runtime="savedmodel")
    assert block["passed"] is True and block["flips"] == 1


def test_non_finite_outputs_fail_without_writing_nan():
    reference = np.full((2, 3), 1 / 3, np.float32)
    ours = reference.copy()
    ours[0, 0] = np.nan
    block, failures = golden_parity(ours, reference, None, gate={"max_abs_error": 1, "min_agreement": None}, reference_runtime="x")
    assert block["max_abs_diff"] is None and block["passed"] is False
    assert failures == ["the model returned NaN or infinite probabilities"]


def test_machine_fingerprint_read_from_proc_matches_psutil():
    """The one fingerprint (host and device) reads /proc, not psutil; psutil, installed here, agrees."""
    import psutil

    block = device_machine.fingerprint()
    assert block["cpu_cores_logical"] == psutil.cpu_count()
    assert block["cpu_cores_physical"] == psutil.cpu_count(logical=False)
    assert block["memory_bytes"] == psutil.virtual_memory().total
    assert block["id"].startswith(f"{block['os'].lower()}-{block['arch']}-") and block["id"].endswith(
        f"-{block['cpu_cores_logical']}c-{round(block['memory_bytes'] / 2**30)}g")
    assert device_machine.peak_rss_bytes() >= device_machine.current_rss_bytes() > 0
