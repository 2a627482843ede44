"""The report's fit-gate section from "fit-gate" records (edgevit.fitgate.fit_records of a three-step search given
here, so the curve's geometry can be checked): the table, the size vs agreement curve, the gate line, the chosen
step and its test-split confirmation, and a search in which no step passed."""

from __future__ import annotations

import re
import xml.dom.minidom

import pytest

from edgevit.fitgate import FitResult, Step, fit_records
from edgevit.formats import Gate
from edgevit.records import validate_document
from edgevit.report import write_report
from edgevit.report.fitgate import BOTTOM, TOP, fit_searches

# (float layers, file size, calibration agreement, verdict, p50 ms)
STEPS = [((), 1_200_000, 0.90, "fail", 3.1),
         (("Transformer_encoderblock_2",), 1_500_000, 0.96, "inconclusive", 3.3),
         (("Transformer_encoderblock_2", "Transformer_encoderblock_0"), 1_800_000, 0.995, "pass", 3.6)]
GATE = Gate(min_agreement=0.98, max_accuracy_drop=1.0)


def _parity(agreement: float, verdict: str, split: str, count: int = 200) -> dict:
    return {"reference": "savedmodel", "split": split, "count": count, "agreement": agreement, "passed": verdict == "pass",
            "verdict": verdict, "agreement_ci": [agreement - 0.02, min(1.0, agreement + 0.01)], "gate": GATE.to_dict()}


def _step(layers, size, agreement, verdict, p50) -> Step:
    samples = [p50 - 0.1, p50, p50, p50 + 0.2]
    blocks = {"parity": _parity(agreement, verdict, "valid"),
              "artifact": {"name": "step-x", "format": "coreml", "quantization": "int8", "file": "model.mlpackage",
                           "file_size": size, "sha256": None, "source_fingerprint": "f" * 16},
              "runtime": {"name": "coreml-mil-numpy", "version": "9.0", "device": "cpu", "threads": 1, "emulated": True, "details": {}},
              "latency": {"batch": 1, "warmup": 2, "runs": 4, "p50_ms": p50, "p90_ms": p50 + 0.1, "p99_ms": None, "min_ms": min(samples),
                          "mean_ms": sum(samples) / 4, "max_ms": max(samples), "percentile_method": "linear", "samples_ms": samples},
              "plan": {"float_ops": [f"{layer}_op" for layer in layers]} if layers else {}}
    return Step(tuple(layers), size, agreement, verdict, p50, blocks)


def _result(steps, *, passed: bool) -> FitResult:
    built = tuple(_step(*s) for s in steps)
    return FitResult(folder=None, steps=built, chosen=built[-1] if passed else None,
                     test_agreement=0.99 if passed else None, test_verdict="pass" if passed else None,
                     name="coreml-int8", gate=GATE, ranking=("Transformer_encoderblock_2", "Transformer_encoderblock_0"),
                     started="2026-11-30T17:00:00+00:00", test_parity=_parity(0.99, "pass", "test", 400) if passed else None)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    records = fit_records(_result(STEPS, passed=True), command="edgevit export ... --fit-gate")
    assert validate_document({"schema_version": 1, "records": records}) == []
    paths = write_report(records, tmp_path_factory.mktemp("fit-report") / "r")
    return records, paths.markdown.read_text(), paths.html.read_text()


def test_each_step_is_a_row_and_the_outcome_names_the_test_split(report):
    records, markdown, _ = report
    assert [r["status"] for r in records] == ["parity failed", "parity inconclusive", "ok"]
    assert [r["fit_gate"]["chosen"] for r in records] == [False, False, True]
    assert "## Mixed precision to the gate (`edgevit export --fit-gate`)" in markdown
    assert "| 0 | none | 1.20 | 90.0% [88.0–91.0] | fail | 3.10 |" in markdown
    assert "| 2 (chosen) | Transformer_encoderblock_2, Transformer_encoderblock_0 | 1.80 | 99.5% [97.5–100.0] | pass | 3.60 |" in markdown
    assert ("Confirmed on the test split: agreement 99.0% [97.0–100.0] (n=400), verdict pass." in markdown)
    assert "Latency: batch-1 predict of a zero image on coreml-mil-numpy (emulated" in markdown
    assert "4 runs after 2 warm-ups" in markdown  # what the records say was timed
    assert "judged by the search's gate: top-1 agreement at least 98.00%" in markdown


STEP_POINT = r'<circle cx="([\d.]+)" cy="([\d.]+)" r="5.0"[^>]*><title>step '  # a step's point and its tooltip


def _points(svg: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(STEP_POINT, svg)]


def test_the_curve_plots_size_against_agreement_with_the_gate_and_the_chosen_step(report):
    _, _, page = report
    start = page.index("<svg", page.index("Mixed precision to the gate"))
    svg = page[start: page.index("</svg>", start) + 6]
    xml.dom.minidom.parseString(svg)
    points = _points(svg)
    assert len(points) == 3
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert xs == sorted(xs) and len(set(xs)) == 3  # larger files to the right
    assert ys == sorted(ys, reverse=True)  # higher agreement higher up (SVG y grows downwards)
    # Equal size steps are equal distances: x is linear in file size.
    assert (xs[2] - xs[1]) == pytest.approx(xs[1] - xs[0], abs=0.2)
    gate_y = float(re.search(r'<line x1="[\d.]+" y1="([\d.]+)" x2="[\d.]+" y2="[\d.]+" stroke="#dc2626"', svg).group(1))
    assert TOP <= gate_y <= BOTTOM and ys[2] < gate_y < ys[1]  # 99.5% above the 98% gate, 96% below it
    assert "gate: 98.0% agreement" in svg
    path = re.search(r'<path d="(M[^"]+)" fill="none"', svg).group(1)
    assert len(re.findall(r"[ML]", path)) == 3  # one line through the three steps
    assert '<circle cx="{:.1f}" cy="{:.1f}" r="11.0"'.format(*points[2]) in svg  # the ring: the chosen step
    assert "chosen: step 2, test agreement 99.0%" in svg


def test_a_search_in_which_no_step_passed_says_so_and_rings_nothing(tmp_path):
    records = fit_records(_result(STEPS[:2], passed=False))
    assert validate_document({"schema_version": 1, "records": records}) == []
    (search,) = fit_searches(records)
    assert search.chosen is None and search.test is None
    paths = write_report(records, tmp_path / "r")
    markdown, page = paths.markdown.read_text(), paths.html.read_text()
    assert ("No step passed the gate on the valid split; the best agreement reached was 96.0% [94.0–97.0] at 1.50 MB (step 1)."
            in markdown)
    assert 'r="11.0"' not in page and "chosen:" not in page
