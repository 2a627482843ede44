"""What a new user sees at the end of `edgevit demo` (edgevit/demo.py): a short summary, and a progress line
whenever a long stage has been silent for a few seconds."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace

from edgevit.demo import _heartbeat, summary_lines
from edgevit.verify.results import Status


def _bench(name, fmt, p50, threads=2, status="ok"):
    return {"kind": "bench", "status": status, "artifact": {"name": name, "format": fmt},
            "runtime": {"name": "rt", "threads": threads}, "latency": {"p50_ms": p50} if status == "ok" else None}


def test_summary_names_accuracy_gate_parity_fastest_report_and_next_command():
    results = [SimpleNamespace(name="tflite-dynamic", passed=True, status=Status.PASSED),
               SimpleNamespace(name="tflite-fp16", passed=False, status=Status.PARITY_FAILED),
               SimpleNamespace(name="coreml-fp16", passed=False, status=Status.CANNOT_VERIFY)]
    records = [_bench("saved_model", "savedmodel", 3.0), _bench("tflite-dynamic", "tflite", 1.5),
               _bench("tflite-fp16", "tflite", 0.5),  # faster, but it failed parity: not the one to ship
               {"kind": "peak", "status": "ok"}]
    lines = summary_lines(test_accuracy=0.943, gate=0.85, verify=SimpleNamespace(results=results), records=records,
                          html=Path("runs/demo/report/report.html"), artifacts=Path("runs/demo/artifacts"),
                          golden=Path("runs/demo/golden"))
    text = "\n".join(lines)
    assert len(lines) <= 8 and all(len(line) <= 160 for line in lines)
    assert "test accuracy 94.3% against the 85% gate: passed" in text
    assert "parity: 1 of 3 artifacts agree" in text and "1 cannot be verified here: coreml-fp16" in text
    assert "fastest: tflite-dynamic on rt, p50 1.5 ms (batch 1, 2 threads), 2.00x the SavedModel's speed" in text
    assert "report: runs/demo/report/report.html" in text
    assert "next: edgevit device bundle runs/demo/artifacts/tflite-dynamic" in text


def test_heartbeat_fills_silences_only(caplog):
    caplog.set_level(logging.INFO, logger="edgevit")
    with _heartbeat("[data]", "drawing", every=0.3):
        time.sleep(1.0)
    beats = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[data] still drawing")]
    assert 2 <= len(beats) <= 4, beats
    caplog.clear()
    talker = logging.getLogger("edgevit.test")
    with _heartbeat("[verify]", "verifying", every=0.6):
        for _ in range(8):  # a stage that speaks every 0.15 s needs no heartbeat
            talker.info("working")
            time.sleep(0.15)
    assert not [r for r in caplog.records if "still verifying" in r.getMessage()]


def test_heartbeat_stops_when_told(caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="edgevit")
    marker = tmp_path / "train_state.json"
    with _heartbeat("[train]", "in the first epoch", every=0.2, until=marker.is_file):
        time.sleep(0.5)
        marker.write_text("{}")  # the first epoch ended: Keras' epoch lines take over
        time.sleep(0.2)  # the beat in flight, if any, lands before the check below
        caplog.clear()
        time.sleep(0.6)
    assert not [r for r in caplog.records if "still in the first epoch" in r.getMessage()]
