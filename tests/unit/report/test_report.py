"""The report shows the records' numbers (parsed back from Markdown and HTML), and the page is self-contained."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from edgevit.bench import run as bench_mod
from edgevit.bench.options import BenchOptions
from edgevit.bench.run import bench_artifacts
from edgevit.records import read_records
from edgevit.report import write_report

from helpers.bench import NO_GPU_MACHINE, FakeClock, constant_factory, write_fake_artifact
from helpers.savedmodel import write_fake_savedmodel

MS = {"savedmodel": 12.0, "tflite-dynamic": 2.5, "tflite-fp32": 4.0, "onnx-fp32": 3.7}
ACCURACY = {"tflite-dynamic": 0.875, "tflite-fp32": 0.9, "onnx-fp32": 0.9}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(bench_mod, "machine_fingerprint", lambda: NO_GPU_MACHINE)
    root = tmp_path_factory.mktemp("report")
    model = {"variant": "tiny", "image_size": 64, "num_classes": 3}
    saved_model = write_fake_savedmodel(root / "saved_model")
    arts = root / "artifacts"
    write_fake_artifact(arts, "tflite-dynamic", fmt="tflite", quantization="dynamic", size=700_000, model=model)
    write_fake_artifact(arts, "tflite-fp32", fmt="tflite", quantization="fp32", size=2_300_000, model=model)
    write_fake_artifact(arts, "onnx-fp32", fmt="onnx", quantization="fp32", size=2_350_000, model=model)
    verify = []
    for name, accuracy in ACCURACY.items():
        sha = json.loads((arts / name / "manifest.json").read_text())["sha256"]
        verify.append({"kind": "verify", "status": "ok", "artifact": {"name": name, "sha256": sha}, "machine": NO_GPU_MACHINE,
                       "runtime": {"name": "fake", "device": "cpu", "emulated": False},
                       "parity": {"reference": "savedmodel", "split": "test", "count": 40, "accuracy": accuracy,
                                  "reference_accuracy": 0.9, "agreement": 0.95 if name == "tflite-dynamic" else 1.0,
                                  "accuracy_ci": [accuracy - 0.1, min(1.0, accuracy + 0.05)],
                                  "agreement_ci": [0.83, 0.99] if name == "tflite-dynamic" else [0.91, 1.0],
                                  "flips": 2, "max_abs_diff": 0.01, "passed": True,
                                  "gate": {"min_agreement": 0.8, "source": "recipe [gates.x]", "meaning": "top-1 agreement at least 80.00%"}}})
    clock = FakeClock()
    options = BenchOptions(threads=(1, 2), runs=7, warmup=1, batch=4, batch_runs=2, devices=("cpu", "gpu"), isolate=False,
                           peak_n=64, peak_runs=1, peak_warmup=0, bandwidth_mib=1, warmup_min_s=0.0)
    records = bench_artifacts(arts, saved_model=saved_model, options=options, verify_records=verify, clock=clock,
                              runtimes=lambda target: ["fake"], factory=constant_factory(clock, MS, batch_ms_per_image=1.5))
    monkeypatch.undo()
    from edgevit.records import new_record

    artifacts = {r["artifact"]["name"]: r["artifact"] for r in records if r["kind"] == "bench"}
    verify_records = [new_record(kind="verify", status="ok", reason=None, machine=NO_GPU_MACHINE, tool_versions={}, producer="test",
                                 artifact=artifacts[v["artifact"]["name"]], parity=v["parity"],
                                 runtime={**v["runtime"], "version": None, "threads": None, "details": {}}) for v in verify]
    records = [*records, *verify_records]
    paths = write_report(records, root / "out", sources=["bench.json"])
    return records, paths


def markdown_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """'### heading' -> the rows of the table under it, as {column: cell}."""
    tables, heading, header = {}, None, None
    for line in text.splitlines():
        if line.startswith("### "):
            heading, header = line[4:], None
        elif line.startswith("|") and heading:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if header is None:
                header = cells
            elif not set(line) <= set("|-"):
                tables.setdefault(heading, []).append(dict(zip(header, cells)))
    return tables


def shown_equals(cell: str, value: float, scale: float = 1.0) -> bool:
    """The printed number is the value rounded to the digits printed (no other drift)."""
    number = re.sub(r"[^\d.\-]", "", cell.split()[0])
    decimals = len(number.split(".")[1]) if "." in number else 0
    return abs(float(number) - value * scale) <= 0.5 * 10**-decimals + 1e-12


def bench_by_key(records):
    return {(r["artifact"]["name"], r["runtime"]["device"], r["runtime"]["threads"]): r for r in records if r["kind"] == "bench"}


def test_markdown_numbers_are_the_records_numbers(report):
    records, paths = report
    tables = markdown_tables(paths.markdown.read_text())
    by_key = bench_by_key(records)
    for threads in (1, 2):
        (heading,) = [h for h in tables if h.startswith(f"CPU, {threads} thread")]
        assert "batch 1, 7 timed runs after 10 warm-ups" in heading  # at least 1, then until two 5-call medians agree
        rows = {row["Artifact"]: row for row in tables[heading]}
        assert set(rows) == {"savedmodel", *ACCURACY}
        reference = by_key[("savedmodel", "cpu", threads)]["latency"]["p50_ms"]
        for name, row in rows.items():
            record = by_key[(name, "cpu", threads)]
            assert row["Status"].endswith("ok")
            assert shown_equals(row["p50 (ms)"], record["latency"]["p50_ms"])
            assert shown_equals(row["p90 (ms)"], record["latency"]["p90_ms"])
            assert shown_equals(row["Size (MB)"], record["artifact"]["file_size"], 1e-6)
            assert shown_equals(row["Speed-up vs SavedModel"], reference / record["latency"]["p50_ms"])
            assert shown_equals(row["GFLOP/s"], record["compute"]["achieved_gflops"])
            assert shown_equals(row["% of GEMM peak"], record["compute"]["fraction_of_peak"], 100)
            assert shown_equals(row["Peak RSS (MB)"], record["memory"]["peak_rss_bytes"], 1e-6)
            assert shown_equals(row["Throughput (img/s @ batch)"], record["throughput"][1]["images_per_second"])
            accuracy = ACCURACY.get(name, 0.9)  # the SavedModel row shows the reference accuracy verify measured
            assert shown_equals(row["Accuracy [95% CI]"], accuracy, 100)
        # Every parity cell carries its interval, its source and n; the SavedModel is the reference, not "100%".
        assert rows["tflite-dynamic"]["Agreement [95% CI]"] == "95.0% [83.0–99.0]"
        assert rows["tflite-dynamic"]["Accuracy [95% CI]"] == "87.5% [77.5–92.5]"
        assert rows["tflite-dynamic"]["Parity measured by"] == "edgevit verify (test split, fake cpu), n=40"
        assert rows["savedmodel"]["Agreement [95% CI]"] == "reference"
        # 12 ms / 2.5 ms in every round: the paired ratio and both ends of its interval
        assert rows["tflite-dynamic"]["Speed-up vs SavedModel"] == "4.80x [4.80–4.80x]"
        assert rows["tflite-dynamic"]["% of GEMM peak"].endswith("int8")
        assert rows["onnx-fp32"]["% of GEMM peak"].endswith("fp32")


def test_not_available_rows_are_shown_with_their_reason(report):
    records, paths = report
    text = paths.markdown.read_text()
    gpu = markdown_tables(text)["GPU"]
    assert {row["Artifact"] for row in gpu} == {"savedmodel", *ACCURACY}
    assert all("not available" in row["Status"] and row["p50 (ms)"] == "–" for row in gpu)
    # The CPU verify says nothing about the GPU: no borrowed accuracy or agreement there.
    assert all(row["Accuracy [95% CI]"] == "–" and row["Parity measured by"] == "not measured here"
               for row in gpu if row["Artifact"] != "savedmodel")
    assert "- not available: no GPU on this machine" in text


class CellParser(HTMLParser):
    """Collects numeric table cells: (artifact, table index, column) -> (data-value, shown text)."""

    def __init__(self):
        super().__init__()
        self.cells, self.table, self.artifact, self.current, self.text = {}, -1, None, None, ""
        self.tags, self.svgs = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table" and "results" in (attrs.get("class") or ""):
            self.table += 1
        elif tag == "tr":
            self.artifact = attrs.get("data-artifact")
        elif tag == "td" and "data-column" in attrs:
            self.current, self.text = (attrs["data-column"], attrs.get("data-value")), ""
        elif tag == "svg":
            self.svgs += 1

    def handle_data(self, data):
        if self.current:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "td" and self.current:
            column, value = self.current
            self.cells[(self.artifact, self.table, column)] = (value, self.text)
            self.current = None


def test_html_cells_carry_the_exact_record_values_and_show_the_markdown_text(report):
    records, paths = report
    parser = CellParser()
    parser.feed(paths.html.read_text())
    tables = [rows for rows in markdown_tables(paths.markdown.read_text()).values() if "Artifact" in rows[0]]
    by_key = bench_by_key(records)
    checked = 0
    for (artifact, table, column), (value, shown) in parser.cells.items():
        md_row = next(row for row in tables[table] if row["Artifact"] == artifact)
        assert shown == md_row[column]  # the same printed string in both formats
        if column == "p50 (ms)" and value is not None:
            threads = 1 if table == 0 else 2
            assert float(value) == by_key[(artifact, "cpu", threads)]["latency"]["p50_ms"]  # exact, unrounded
            checked += 1
    assert checked == 8
    assert parser.svgs == 6  # three charts for each CPU group; none for the GPU group, where nothing ran


def test_html_is_self_contained_and_its_svgs_are_well_formed(report):
    _, paths = report
    html = paths.html.read_text()
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert not re.search(r'(src|href)="https?:', html)
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 6
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.find("{http://www.w3.org/2000/svg}title").text
    latency_svg = svgs[0]
    for name in ("savedmodel", *ACCURACY):
        assert f"{name} · fake" in latency_svg


def test_report_writes_the_records_it_was_given(report):
    records, paths = report
    assert read_records([paths.records]) == records


def test_report_cli_end_to_end(report, tmp_path):
    from edgevit.cli import main
    from edgevit.records import write_records

    records, _ = report
    source = write_records(tmp_path / "bench.json", records)
    assert main(["report", str(source), "--out", str(tmp_path / "r"), "--title", "Tiny"]) == 0
    assert (tmp_path / "r" / "report.md").read_text().startswith("# Tiny\n")
    assert main(["report", str(tmp_path / "missing.json"), "--out", str(tmp_path / "r")]) == 3


def test_export_failed_and_parity_failed_are_different_statuses(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_mod, "machine_fingerprint", lambda: NO_GPU_MACHINE)
    arts = tmp_path / "artifacts"
    write_fake_artifact(arts, "onnx-int8-dynamic", fmt="onnx", quantization="int8-dynamic")
    (arts / "artifacts.json").write_text(json.dumps({"schema_version": 1, "kind": "artifacts", "artifacts": [
        {"name": "onnx-int8-dynamic", "format": "onnx", "quantization": "int8-dynamic", "status": "ok", "error": None},
        {"name": "coreml-fp16", "format": "coreml", "quantization": "fp16", "status": "failed", "error": "converter ran out of memory"},
    ]}))
    sha = json.loads((arts / "onnx-int8-dynamic" / "manifest.json").read_text())["sha256"]
    verify = {"kind": "verify", "status": "parity failed", "reason": "agreement 80.0% < gate 99.0%",
              "artifact": {"name": "onnx-int8-dynamic", "sha256": sha},
              "parity": {"reference": "savedmodel", "split": "test", "count": 10, "accuracy": 0.7, "reference_accuracy": 0.9,
                         "agreement": 0.8, "flips": 2, "max_abs_diff": 0.3, "passed": False, "gate": {"min_agreement": 0.99}}}
    clock = FakeClock()
    options = BenchOptions(threads=(1, 2), runs=3, warmup=0, batch_runs=1, devices=("cpu",), isolate=False,
                           peak_n=64, peak_runs=1, peak_warmup=0, bandwidth_mib=1, warmup_min_s=0.0)
    records = bench_artifacts(arts, options=options, runtimes=lambda target: ["fake"], clock=clock,
                              factory=constant_factory(clock, {"onnx-int8-dynamic": 2.0}))
    failed = [r for r in records if r["status"] == "export failed"]
    assert len(failed) == 1 and failed[0]["reason"] == "converter ran out of memory"
    assert failed[0]["artifact"]["file_size"] is None
    from edgevit.records import new_record

    measured = next(r for r in records if r["kind"] == "bench" and r["status"] == "ok")
    verify_record = new_record(kind="verify", status=verify["status"], reason=verify["reason"], machine=NO_GPU_MACHINE,
                               tool_versions={}, producer="test", artifact=measured["artifact"], parity=verify["parity"],
                               runtime={"name": "fake", "version": None, "device": "cpu", "threads": None, "emulated": False,
                                        "details": {}})
    paths = write_report(records + [verify_record], tmp_path / "out")
    text = paths.markdown.read_text()
    tables = {h: rows for h, rows in markdown_tables(text).items() if h.startswith("CPU")}
    assert len(tables) == 2
    for rows in tables.values():
        by_name = {row["Artifact"]: row for row in rows}
        assert by_name["coreml-fp16"]["Status"].endswith("export failed") and by_name["coreml-fp16"]["Size (MB)"] == "–"
        assert by_name["onnx-int8-dynamic"]["Status"].endswith("parity failed")
        assert by_name["onnx-int8-dynamic"]["p50 (ms)"] == "2.00" and by_name["onnx-int8-dynamic"]["Agreement [95% CI]"] == "80.0%"
    assert "- parity failed: agreement 80.0% < gate 99.0% (onnx-int8-dynamic on fake)" in text
    assert "- export failed: converter ran out of memory (coreml-fp16)" in text


def test_a_busy_machine_is_called_out(report, tmp_path):
    import copy

    records, _ = report
    busy = copy.deepcopy(records)
    for r in busy:
        if r["kind"] == "bench" and r["runtime"]["details"] is not None and r["status"] == "ok":
            r["runtime"]["details"]["load_average_1m"] = 9.5
    text = write_report(busy, tmp_path / "busy").markdown.read_text()
    assert "the 1-minute load average reached 9.5 on 2 logical cores" in text
    for r in busy:
        if r["kind"] == "bench" and r["status"] == "ok":
            r["runtime"]["details"]["load_average_1m"] = 1.5
    assert "load average" not in write_report(busy, tmp_path / "quiet").markdown.read_text()


def test_latency_cells_show_the_interval_the_disturbed_flag_and_the_roofline(report):
    records, paths = report
    text = paths.markdown.read_text()
    tables = markdown_tables(text)
    by_key = bench_by_key(records)
    for threads in (1, 2):
        (heading,) = [h for h in tables if h.startswith(f"CPU, {threads} thread")]
        for row in tables[heading]:
            record = by_key[(row["Artifact"], "cpu", threads)]
            latency, compute = record["latency"], record["compute"]
            low, high = latency["p50_interval_ms"]  # 7 samples: [min, max] covers the median with 98.4%
            assert row["p50 (ms)"].endswith(f"[{low:.2f}–{high:.2f}]")
            flagged = latency["stability"]["disturbed"]
            assert row["Timing"] == ("⚠️ disturbed" if flagged else "quiet")
            if flagged:
                assert f"⚠️ disturbed: {row['Artifact']} on {row['Runtime']}: {latency['stability']['reasons'][0]}" in text
            if compute is not None:
                assert row["Roofline"] == f"{compute['bound']} {100 * compute['fraction_of_roofline']:.1f}%"
            memory = record["memory"]
            assert "(import " in row["Peak RSS (MB)"] and memory["model_bytes"] is not None


def test_records_from_before_the_interleaved_bench_still_read_and_hide_p99_under_100_samples(report, tmp_path):
    from edgevit.report.rows import build_rows

    records, _ = report
    old = []
    for record in records:
        record = json.loads(json.dumps(record))
        if record["kind"] == "bench" and record.get("latency"):
            for key in ("warmup_ms", "warmup_settled", "rounds", "round_runs", "p50_interval_ms", "interval_level", "stability",
                        "speedup"):
                record["latency"].pop(key, None)
            record["latency"]["p99_ms"] = record["latency"]["max_ms"]  # older records always had a p99
        if record["kind"] == "bench" and record.get("memory"):
            record["memory"] = {k: record["memory"][k] for k in ("peak_rss_bytes", "rss_before_load_bytes", "scope")}
        old.append(record)
    rows = [row for row in build_rows(old) if row.measured]
    assert rows and all(row.disturbed is None and row.p50_interval is None and row.p99_ms is None for row in rows)
    assert all(row.speedup is not None for row in rows if row.group.device == "cpu")  # the p50 ratio, as before
