"""The record schema: what it accepts, what it refuses, and files that round-trip."""

from __future__ import annotations

import copy
import json

import pytest

from edgevit.errors import DataError
from edgevit.portable.timing import latency_block
from edgevit.records import (RECORD_KEYS, SCHEMA_PATH, new_record, read_records, schema, validate_document, validate_record,
                             write_records)

MACHINE = {"id": "linux-x86_64-test-2c-16g", "os": "Linux", "os_release": "6.1", "arch": "x86_64", "cpu_model": "Test CPU",
           "cpu_cores_logical": 2, "cpu_cores_physical": 2, "cpu_features": ["avx2", "fma"], "memory_bytes": 2**34,
           "device_model": None, "python": "3.11.7", "accelerators": []}
ARTIFACT = {"name": "tflite-dynamic", "format": "tflite", "quantization": "dynamic", "file": "model.tflite",
            "file_size": 123, "sha256": "ab" * 32, "source_fingerprint": "cd" * 32}
RUNTIME = {"name": "litert", "version": "2.3.0", "device": "cpu", "threads": 2, "emulated": False, "details": {"xnnpack": True}}


def ok_bench() -> dict:
    return new_record(
        kind="bench", status="ok", machine=MACHINE, tool_versions={"python": "3.11.7"}, producer="test",
        artifact=ARTIFACT, runtime=RUNTIME, load_ms=12.5, first_inference_ms=30.0,
        latency=latency_block([3.0, 1.0, 2.0], batch=1, warmup=2),
        throughput=[{"batch": 1, "warmup": 2, "runs": 3, "images_per_second": 500.0, "batch_p50_ms": 2.0}],
        memory={"peak_rss_bytes": 10**8, "rss_before_load_bytes": 5 * 10**7, "scope": "own process per measurement"},
    )


def test_a_complete_bench_record_is_valid_and_has_every_key():
    record = ok_bench()
    assert validate_record(record) == []
    assert tuple(record) == RECORD_KEYS
    assert record["latency"]["samples_ms"] == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(status="failed"), "record.reason: expected string"),
    (lambda r: r.update(latency=None), "record.latency: expected object"),
    (lambda r: r.update(status="great"), "record.status: must be one of"),
    (lambda r: r.update(extra=1), "record: unknown key 'extra'"),
    (lambda r: r["machine"].pop("cpu_model"), "record.machine: missing key 'cpu_model'"),
    (lambda r: r["latency"].update(runs=4), "runs is 4 but samples_ms has 3 values"),
    (lambda r: r["latency"].update(min_ms=0.5), "record.latency.min_ms is 0.5 but the samples say 1.0"),
    (lambda r: r["latency"].update(p50_ms=-1), "record.latency.p50_ms: -1 violates minimum 0"),
    (lambda r: r["runtime"].update(threads=True), "record.runtime.threads: expected integer or null"),
    (lambda r: r.update(schema_version=2), "record.schema_version: must be 1"),
    (lambda r: r["artifact"].pop("sha256"), "record.artifact: missing key 'sha256'"),
])
def test_invalid_records_are_refused_with_the_path_of_the_problem(change, message):
    record = copy.deepcopy(ok_bench())
    change(record)
    errors = validate_record(record)
    assert any(message in e for e in errors), errors


def test_not_available_record_needs_only_a_reason():
    record = new_record(kind="bench", status="not available", reason="no GPU on this machine", machine=MACHINE,
                        tool_versions={}, producer="test", artifact=ARTIFACT, runtime={**RUNTIME, "device": "gpu", "threads": None})
    assert validate_record(record) == []
    record["reason"] = ""
    assert any("must not be empty" in e for e in validate_record(record))


def test_peak_and_verify_records_need_their_blocks():
    peak = new_record(kind="peak", status="ok", machine=MACHINE, tool_versions={}, producer="test")
    assert "record: missing key 'peak'" not in validate_record(peak)  # present but null:
    assert any("record.peak: expected object" in e for e in validate_record(peak))
    peak["peak"] = {"dtype": "int8", "backend": "onnxruntime", "op": "MatMulInteger", "n": 512, "threads": 1, "warmup": 1,
                    "runs": 3, "gflops": 100.0, "median_gflops": 90.0}
    assert validate_record(peak) == []
    verify = new_record(kind="verify", status="parity failed", reason="agreement 80% < 99%", machine=MACHINE,
                        tool_versions={}, producer="test", artifact=ARTIFACT)
    assert any("record.parity: expected object" in e for e in validate_record(verify))


def test_records_file_round_trip_and_refusals(tmp_path):
    path = write_records(tmp_path / "r.json", [ok_bench(), ok_bench()])
    assert read_records([path, path])[3]["artifact"] == ARTIFACT
    with pytest.raises(ValueError, match="do not follow"):
        write_records(tmp_path / "bad.json", [{**ok_bench(), "status": "maybe"}])
    assert not (tmp_path / "bad.json").exists()
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"schema_version": 2, "records": []}))
    with pytest.raises(DataError, match="newer than this edgevit understands"):
        read_records([newer])
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema_version": 1, "records": [{"kind": "bench"}]}))
    with pytest.raises(DataError, match=r"file.records\[0\]: missing key"):
        read_records([broken])
    with pytest.raises(DataError, match="no such records file"):
        read_records([tmp_path / "missing.json"])


def test_schema_file_is_json_schema_shaped_and_every_def_is_reachable():
    text = SCHEMA_PATH.read_text()
    root = schema()
    assert root["$schema"].endswith("2020-12/schema") and root["properties"]["schema_version"]["const"] == 1
    for name in root["$defs"]:
        assert f'"#/$defs/{name}"' in text, f"$defs/{name} is never referenced"
    assert validate_document({"schema_version": 1, "records": []}) == []
    assert validate_document({"schema_version": 1}) == ["file: missing key 'records'"]


def test_artifact_block_copies_the_manifest_and_is_the_same_on_host_and_device():
    from edgevit import __version__
    from edgevit.portable import records as portable_records
    from edgevit.records import artifact_block

    assert artifact_block is portable_records.artifact_block  # one builder for bench, verify and the harness
    manifest = {"kind": "artifact", "name": "tflite-dynamic", "format": "tflite", "quantization": "dynamic", "file": "model.tflite",
                "file_size": 123, "sha256": "ab" * 32, "source": {"saved_model": "/x", "fingerprint": "cd" * 32}, "labels": ["a"]}
    assert artifact_block(manifest) == ARTIFACT
    assert artifact_block(manifest, name="renamed")["name"] == "renamed"
    assert artifact_block({**manifest, "name": None})["name"] == "model"  # the model file's stem
    # A failed export has no file: size, hash and fingerprint are null, and the record still validates.
    failed = artifact_block({"format": "onnx", "quantization": "int8-dynamic"}, name="onnx-int8")
    assert failed == {"name": "onnx-int8", "format": "onnx", "quantization": "int8-dynamic", "file": None, "file_size": None,
                      "sha256": None, "source_fingerprint": None}
    record = new_record(kind="bench", status="export failed", reason="converter crashed", machine=MACHINE, tool_versions={},
                        producer="test", artifact=failed)
    assert validate_record(record) == [] and record["producer"] == {"name": "test", "version": __version__}


def test_the_device_harness_builds_records_with_the_same_keys():
    from edgevit.portable.records import new_record as device_new_record

    record = device_new_record(kind="bench", status="ok", machine=MACHINE, tool_versions={"python": "3.11.7"},
                               producer="edgevit-device", producer_version="9.9", artifact=ARTIFACT)
    assert tuple(record) == RECORD_KEYS and record["producer"] == {"name": "edgevit-device", "version": "9.9"}
    with pytest.raises(ValueError, match="unknown record key"):
        device_new_record(kind="bench", status="ok", machine=MACHINE, tool_versions={}, producer="x", producer_version="1", speed=1)


def test_edgevit_errors_exit_with_the_device_harness_numbers():
    from edgevit import errors
    from edgevit.portable import errors as table

    assert [errors.EdgeVitError.exit_code, errors.UsageError.exit_code, errors.DataError.exit_code, errors.ModelError.exit_code,
            errors.ExportError.exit_code, errors.ParityError.exit_code] == [1, 2, 3, 4, 5, 6]
    assert (table.EXIT_CRASHED, table.EXIT_USAGE, table.EXIT_DATA, table.EXIT_MODEL, table.EXIT_EXPORT, table.EXIT_PARITY) == (1, 2, 3, 4, 5, 6)
    assert table.EXIT_BUNDLE == errors.ModelError.exit_code and table.EXIT_OK == 0
