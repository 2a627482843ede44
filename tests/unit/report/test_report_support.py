"""The report lists which runtimes load each artifact, from the `loads_in` its records copied from its manifest."""

from __future__ import annotations

from edgevit.report.html import render_html
from edgevit.report.markdown import NOT_RECORDED, render_markdown
from edgevit.report.rows import build_support


def _record(kind, name, fmt, quantization, loads_in=None):
    artifact = {"name": name, "format": fmt, "quantization": quantization}
    if loads_in:
        artifact["loads_in"] = loads_in
    return {"kind": kind, "artifact": artifact}


def test_one_line_per_artifact_from_its_records():
    records = [
        _record("bench", "savedmodel", "savedmodel", "none"),  # the reference ships nowhere: not listed
        _record("verify", "tflite-dynamic", "tflite", "dynamic", "TFLite 2.17.0+"),
        _record("bench", "tflite-dynamic", "tflite", "dynamic", "TFLite 2.17.0+"),
        _record("bench", "onnx-fp32", "onnx", "fp32"),  # an artifact exported before manifests recorded it
        _record("verify", "tflite-dynamic-rt2.14", "tflite", "dynamic", "TFLite 2.9.0+"),
        {"kind": "peak"},
    ]
    support = build_support(records)
    assert [(s.name, s.loads_in) for s in support] == [
        ("tflite-dynamic", "TFLite 2.17.0+"), ("tflite-dynamic-rt2.14", "TFLite 2.9.0+"), ("onnx-fp32", None)]
    markdown = render_markdown([], [], {}, title="t", sources=[], support=support)
    assert "## Which runtimes load each artifact" in markdown
    assert "| tflite-dynamic | tflite dynamic | TFLite 2.17.0+ |" in markdown
    assert f"| onnx-fp32 | onnx fp32 | {NOT_RECORDED} |" in markdown
    html = render_html([], [], {}, title="t", sources=[], support=support)
    assert '<tr data-artifact="tflite-dynamic-rt2.14"><td>tflite-dynamic-rt2.14</td><td>tflite dynamic</td><td>TFLite 2.9.0+</td></tr>' in html
    assert "Which runtimes load" not in render_markdown([], [], {}, title="t", sources=[])  # nothing to list, no section


def test_records_carry_the_manifests_summary_and_validate():
    from edgevit.records import artifact_block, new_record, validate_record

    machine = {"id": "linux-x86_64-test-2c-16g", "os": "Linux", "os_release": "6.1", "arch": "x86_64", "cpu_model": "Test CPU",
               "cpu_cores_logical": 2, "cpu_cores_physical": 2, "cpu_features": [], "memory_bytes": 2**34, "device_model": None,
               "python": "3.11.7", "accelerators": []}

    manifest = {"name": "tflite-dynamic", "format": "tflite", "quantization": "dynamic", "file": "model.tflite", "file_size": 1,
                "sha256": "ab" * 32, "runtime_support": {"summary": "TFLite 2.17.0+", "min_runtime_version": "2.17.0"}}
    block = artifact_block(manifest)
    assert block["loads_in"] == "TFLite 2.17.0+"
    assert "loads_in" not in artifact_block({**manifest, "runtime_support": ["not", "a", "block"]})
    record = new_record(kind="bench", status="export failed", reason="x", machine=machine, tool_versions={},
                        producer="test", artifact=block)
    assert validate_record(record) == []
