"""bench on a fake runtime with known timings: exact statistics, statuses, compute against the peak, RSS per artifact."""

from __future__ import annotations

import random

import numpy as np
import pytest

from edgevit.bench import run as bench_mod
from edgevit.runners.base import RunnerInfo
from edgevit.bench.options import BenchOptions, parse_threads
from edgevit.bench.run import bench_artifacts
from edgevit.runners.options import RuntimeUnavailable
from edgevit.errors import DataError, UsageError
from edgevit.portable.timing import percentile
from edgevit.records import validate_record

from helpers.bench import (GPU_MACHINE, NO_GPU_MACHINE, FakeClock, ScriptedRunner, allocating_factory, constant_factory,
                           fake_runtimes, scripted_factory, write_fake_artifact)

FAST_PEAK = dict(peak_n=64, peak_runs=1, peak_warmup=0, bandwidth_mib=1, warmup_min_s=0.0)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(bench_mod, "machine_fingerprint", lambda: NO_GPU_MACHINE)


def bench_records(records, kind="bench"):
    return [r for r in records if r["kind"] == kind]


def test_percentile_is_linear_interpolation_between_order_statistics():
    assert percentile([40.0, 10.0, 30.0, 20.0], 50) == 25.0
    assert percentile([40.0, 10.0, 30.0, 20.0], 90) == pytest.approx(37.0, abs=1e-12)
    assert percentile([40.0, 10.0, 30.0, 20.0], 99) == pytest.approx(39.7, abs=1e-12)
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0], 0) == 1.0 and percentile([1.0, 2.0], 100) == 2.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_fake_runner_with_known_timings_gives_exact_statistics(tmp_path, no_gpu):
    write_fake_artifact(tmp_path, "a")
    timed = list(range(1, 101))
    random.Random(3).shuffle(timed)
    # first inference 500 ms, 10 warm-ups of 200 ms (settled: two equal 5-call medians), 10 rounds of one untimed
    # 777 ms call then 10 timed calls (100 in all, 1..100 ms), 2 batch warm-ups, 4 batch calls.
    rounds = [[777.0] + [float(t) for t in timed[r * 10:(r + 1) * 10]] for r in range(10)]
    script = [500.0] + [200.0] * 10 + [d for chunk in rounds for d in chunk] + [999.0] * 2 + [80.0] * 4
    clock, opened = FakeClock(), []
    options = BenchOptions(threads=(2,), runs=100, warmup=3, batch=8, batch_runs=4, batch_warmup=2, devices=("cpu",),
                           isolate=False, **FAST_PEAK)
    records = bench_artifacts(tmp_path, options=options, factory=scripted_factory(clock, load_ms=42.0, durations_ms=script, opened=opened),
                              runtimes=fake_runtimes, clock=clock)
    (record,) = bench_records(records)
    assert record["status"] == "ok" and record["reason"] is None
    assert record["load_ms"] == 42.0
    assert record["first_inference_ms"] == 500.0
    latency = record["latency"]
    assert latency["samples_ms"] == timed  # every timed call, in order; warm-ups excluded, nothing clipped
    assert (latency["runs"], latency["warmup"], latency["batch"]) == (100, 10, 1)
    assert latency["warmup_settled"] is True and latency["warmup_ms"] == pytest.approx(2000.0)
    assert latency["rounds"] == 10 and latency["round_runs"] == [10] * 10 and latency["round_warmup"] == 1
    low, high = latency["p50_interval_ms"]
    assert low < 50.5 < high  # the order statistics around the median of 1..100
    assert latency["stability"]["trend"] is not None and "speedup" not in latency  # no SavedModel in this run
    assert latency["p50_ms"] == pytest.approx(50.5, abs=1e-9)
    assert latency["p90_ms"] == pytest.approx(90.1, abs=1e-9)
    assert latency["p99_ms"] == pytest.approx(99.01, abs=1e-9)
    assert (latency["min_ms"], latency["max_ms"]) == (1.0, 100.0)
    assert latency["mean_ms"] == pytest.approx(50.5, abs=1e-9)
    one, eight = record["throughput"]
    assert one["batch"] == 1 and one["images_per_second"] == pytest.approx(100 / 5.050, rel=1e-12)
    assert eight == {"batch": 8, "warmup": 2, "runs": 4, "images_per_second": pytest.approx(8 * 4 / 0.320, rel=1e-12),
                     "batch_p50_ms": pytest.approx(80.0)}
    (runner,) = opened
    assert runner.calls == [1] * (1 + 10 + 10 + 100) + [8] * 6 and runner.closed
    assert record["runtime"]["threads"] == 2 and record["runtime"]["device"] == "cpu"
    assert record["memory"]["peak_rss_bytes"] > 0 and "not isolated" in record["memory"]["scope"]
    assert record["artifact"]["file_size"] == 1000 and len(record["artifact"]["sha256"]) == 64
    assert all(validate_record(r) == [] for r in records)


def test_gpu_without_a_gpu_is_a_not_available_record(tmp_path, no_gpu):
    write_fake_artifact(tmp_path, "a")
    clock = FakeClock()
    options = BenchOptions(threads=(1,), runs=3, warmup=0, batch_runs=1, devices=("cpu", "gpu"), isolate=False, **FAST_PEAK)
    records = bench_records(bench_artifacts(tmp_path, options=options, factory=constant_factory(clock, {"a": 5.0}),
                                            runtimes=fake_runtimes, clock=clock))
    assert [(r["runtime"]["device"], r["status"]) for r in records] == [("cpu", "ok"), ("gpu", "not available")]
    gpu = records[1]
    assert "no GPU on this machine" in gpu["reason"]
    assert gpu["latency"] is None and gpu["compute"] is None and gpu["artifact"]["name"] == "a"
    assert validate_record(gpu) == []


def test_gpu_runtime_that_cannot_use_the_gpu_says_why_once_per_runtime(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_mod, "machine_fingerprint", lambda: GPU_MACHINE)
    write_fake_artifact(tmp_path, "a")
    write_fake_artifact(tmp_path, "b")
    clock, opened = FakeClock(), []

    def factory(target, *, runtime, device, threads):
        opened.append((runtime, target.name))
        if runtime == "no-cuda":
            raise RuntimeUnavailable("fake runtime has no CUDA provider")
        return ScriptedRunner(clock, lambda batch: 1.0, device="cpu", threads=threads)  # silently on the CPU

    options = BenchOptions(threads=(1,), runs=2, warmup=0, batch_runs=1, devices=("gpu",), isolate=False, **FAST_PEAK)
    records = bench_records(bench_artifacts(tmp_path, options=options, factory=factory, clock=clock,
                                            runtimes=lambda target: ["no-cuda", "falls-back"]))
    reasons = {(r["artifact"]["name"], r["runtime"]["name"]): (r["status"], r["reason"]) for r in records}
    assert reasons == {
        ("a", "no-cuda"): ("not available", "fake runtime has no CUDA provider"),
        ("b", "no-cuda"): ("not available", "fake runtime has no CUDA provider"),
        ("a", "falls-back"): ("not available", "falls-back was asked for gpu but runs on cpu"),
        ("b", "falls-back"): ("not available", "falls-back was asked for gpu but runs on cpu"),
    }
    assert opened == [("no-cuda", "a"), ("falls-back", "a")]  # a runtime found unavailable is not reopened


def test_a_crashing_runtime_is_a_failed_record_not_an_exception(tmp_path, no_gpu):
    write_fake_artifact(tmp_path, "broken-load")
    write_fake_artifact(tmp_path, "broken-predict")
    clock = FakeClock()

    def factory(target, *, runtime, device, threads):
        if target.name == "broken-load":
            raise OSError("model file truncated")
        return ScriptedRunner(clock, lambda batch: (_ for _ in ()).throw(RuntimeError("bad op\nsecond line")), threads=threads)

    options = BenchOptions(threads=(1,), runs=2, warmup=0, batch_runs=1, devices=("cpu",), isolate=False, **FAST_PEAK)
    records = bench_records(bench_artifacts(tmp_path, options=options, factory=factory, runtimes=fake_runtimes, clock=clock))
    reasons = {r["artifact"]["name"]: (r["status"], r["reason"]) for r in records}
    assert reasons["broken-load"] == ("failed", "load failed: OSError: model file truncated")
    assert reasons["broken-predict"] == ("failed", "inference failed: RuntimeError: bad op")
    assert all(validate_record(r) == [] for r in records)


def test_fixed_batch_artifact_reports_the_larger_batch_as_not_available(tmp_path, no_gpu):
    write_fake_artifact(tmp_path, "coreml-like", fmt="coreml", quantization="fp16", batch=1)
    clock = FakeClock()
    options = BenchOptions(threads=(1,), runs=2, warmup=0, batch=4, batch_runs=1, devices=("cpu",), isolate=False, **FAST_PEAK)
    (record,) = bench_records(bench_artifacts(tmp_path, options=options, factory=constant_factory(clock, {"coreml-like": 3.0}),
                                              runtimes=fake_runtimes, clock=clock))
    one, four = record["throughput"]
    assert one["batch"] == 1 and one["images_per_second"] == pytest.approx(1000 / 3.0)
    assert four["status"] == "not available" and four["reason"] == "the artifact's input has a fixed batch of 1"


def test_a_runner_of_one_image_per_call_reports_the_larger_batch_as_not_available(tmp_path, no_gpu):
    write_fake_artifact(tmp_path, "weight-cached")  # a dynamic-batch artifact run one image per call (LiteRT weight cache)
    clock = FakeClock()
    constant = constant_factory(clock, {"weight-cached": 3.0})

    def factory(target, *, runtime, device, threads):
        runner = constant(target, runtime=runtime, device=device, threads=threads)
        runner.info = RunnerInfo(runtime="fake", version="0.0", device=device, threads=threads, details={"batch_per_call": 1})
        return runner

    options = BenchOptions(threads=(1,), runs=2, warmup=0, batch=4, batch_runs=1, devices=("cpu",), isolate=False, **FAST_PEAK)
    (record,) = bench_records(bench_artifacts(tmp_path, options=options, factory=factory, runtimes=fake_runtimes, clock=clock))
    one, four = record["throughput"]
    assert one["batch"] == 1 and one["images_per_second"] == pytest.approx(1000 / 3.0)
    assert four["status"] == "not available"
    assert four["reason"] == "this runner runs 1 image(s) per call, so batch 4 would time separate calls"
    assert validate_record(record) == []


def test_achieved_gflops_is_held_against_the_peak_of_its_dtype_and_thread_count(tmp_path, no_gpu):
    from edgevit.config import VARIANTS
    from edgevit.model_cost import vit_cost

    model = {"variant": "tiny", "image_size": 64, "num_classes": 3}
    flops = vit_cost(VARIANTS["tiny"], image_size=64, num_classes=3).flops
    write_fake_artifact(tmp_path, "fp32", fmt="onnx", quantization="fp32", model=model)
    write_fake_artifact(tmp_path, "dyn", fmt="tflite", quantization="dynamic", model=model)
    write_fake_artifact(tmp_path, "coreml-int8", fmt="coreml", quantization="fp16-int8", model=model, batch=1)
    clock = FakeClock()
    options = BenchOptions(threads=(1, 2), runs=5, warmup=0, batch=2, batch_runs=2, devices=("cpu",), isolate=False, **FAST_PEAK)
    records = bench_artifacts(tmp_path, options=options, runtimes=fake_runtimes, clock=clock,
                              factory=constant_factory(clock, {"fp32": 4.0, "dyn": 2.0, "coreml-int8": 8.0}, batch_ms_per_image=1.0))
    peaks = {}
    for r in bench_records(records, "peak"):
        assert r["status"] == "ok", r["reason"]
        key = (r["peak"]["dtype"], r["peak"]["threads"])
        peaks[key] = max(peaks.get(key, 0), r["peak"]["gflops"])
    assert set(peaks) == {("float32", 1), ("float32", 2), ("int8", 1), ("int8", 2)}
    expected_dtype = {"fp32": "float32", "dyn": "int8", "coreml-int8": "float32"}
    for r in bench_records(records):
        name, threads = r["artifact"]["name"], r["runtime"]["threads"]
        ms = {"fp32": 4.0, "dyn": 2.0, "coreml-int8": 8.0}[name]
        c = r["compute"]
        assert r["model"]["flops_per_image"] == flops
        assert c["achieved_gflops"] == pytest.approx(flops / (ms / 1e3) / 1e9, rel=1e-12)
        assert c["peak_dtype"] == expected_dtype[name]
        assert c["peak_gflops"] == peaks[(expected_dtype[name], threads)]
        assert c["fraction_of_peak"] == pytest.approx(c["achieved_gflops"] / c["peak_gflops"], rel=1e-12)
        assert c["fraction_of_float32_peak"] == pytest.approx(c["achieved_gflops"] / peaks[("float32", threads)], rel=1e-12)
        batched = None if name == "coreml-int8" else flops * 1000 / 1.0 / 1e9  # 1 ms per image at batch 2
        assert c["achieved_gflops_batched"] == (pytest.approx(batched, rel=1e-12) if batched else None)


def test_parity_from_verify_records_is_attached_by_sha256(tmp_path, no_gpu):
    write_fake_artifact(tmp_path, "a")
    write_fake_artifact(tmp_path, "b")
    from edgevit.bench.targets import artifact_targets

    target_a = artifact_targets(tmp_path)[0][0]
    parity = {"reference": "savedmodel", "split": "test", "count": 40, "accuracy": 0.9, "reference_accuracy": 0.925,
              "agreement": 0.975, "flips": 1, "max_abs_diff": 0.01, "passed": True, "gate": None}
    # The same file verified by another runtime says nothing about this one's numbers: never attached.
    verify = [{"kind": "verify", "status": "ok", "artifact": {"name": "a", "sha256": target_a.manifest["sha256"]},
               "runtime": {"name": "other", "device": "cpu"}, "parity": {**parity, "accuracy": 0.1}},
              {"kind": "verify", "status": "ok", "artifact": {"name": "renamed", "sha256": target_a.manifest["sha256"]},
               "runtime": {"name": "fake", "device": "cpu"}, "parity": parity}]
    clock = FakeClock()
    options = BenchOptions(threads=(1,), runs=2, warmup=0, batch_runs=1, devices=("cpu",), isolate=False, **FAST_PEAK)
    records = bench_records(bench_artifacts(tmp_path, options=options, verify_records=verify, runtimes=fake_runtimes, clock=clock,
                                            factory=constant_factory(clock, {"a": 1.0, "b": 1.0})))
    assert {r["artifact"]["name"]: r["parity"] for r in records} == {"a": parity, "b": None}


def test_each_measurement_runs_in_its_own_process_so_peak_rss_is_per_artifact(tmp_path, no_gpu):
    write_fake_artifact(tmp_path, "small", fake_alloc_mb=20)
    write_fake_artifact(tmp_path, "large", fake_alloc_mb=220)
    options = BenchOptions(threads=(1,), runs=3, warmup=1, batch=2, batch_runs=1, devices=("cpu",), isolate=True, **FAST_PEAK)
    parent_ballast = np.ones(300 * 2**20, np.uint8)  # a big parent must not show up in its children's peaks
    records = bench_records(bench_artifacts(tmp_path, options=options, factory=allocating_factory, runtimes=fake_runtimes))
    del parent_ballast
    memory = {r["artifact"]["name"]: r["memory"] for r in records}
    assert all(r["status"] == "ok" for r in records), [r["reason"] for r in records]
    # "large" was measured first (sorted by name): in a shared process "small" would inherit its 220 MiB.
    growth = {name: m["peak_rss_bytes"] - m["rss_before_load_bytes"] for name, m in memory.items()}
    assert growth["large"] >= 200 * 2**20
    assert 15 * 2**20 <= growth["small"] < 100 * 2**20
    assert memory["small"]["peak_rss_bytes"] < memory["large"]["peak_rss_bytes"] - 150 * 2**20
    assert memory["small"]["peak_rss_bytes"] < 250 * 2**20
    assert all("own process" in m["scope"] for m in memory.values())


def test_the_savedmodel_row_carries_the_fingerprint_its_artifacts_record_as_their_source(tmp_path, no_gpu):
    from edgevit.fsutil import folder_size
    from edgevit.savedmodel.source import open_source

    from helpers.savedmodel import write_fake_savedmodel

    saved_model = write_fake_savedmodel(tmp_path / "run" / "saved_model")
    clock = FakeClock()
    options = BenchOptions(threads=(1,), runs=2, warmup=0, batch_runs=1, devices=("cpu",), isolate=False, **FAST_PEAK)
    (record,) = bench_records(bench_artifacts(saved_model=saved_model, options=options, runtimes=fake_runtimes, clock=clock,
                                              factory=constant_factory(clock, {"savedmodel": 2.0})))
    assert record["status"] == "ok" and validate_record(record) == []
    assert record["artifact"] == {"name": "savedmodel", "format": "savedmodel", "quantization": "none", "file": ".",
                                  "file_size": folder_size(saved_model), "sha256": None,
                                  "source_fingerprint": open_source(saved_model).fingerprint}


def test_an_artifact_folder_that_cannot_be_opened_is_a_failed_record(tmp_path, no_gpu):
    write_fake_artifact(tmp_path, "a")
    (write_fake_artifact(tmp_path, "gone", fmt="onnx", quantization="fp16") / "model.bin").unlink()
    clock = FakeClock()
    options = BenchOptions(threads=(1, 2), runs=2, warmup=0, batch_runs=1, devices=("cpu",), isolate=False, **FAST_PEAK)
    records = bench_records(bench_artifacts(tmp_path, options=options, runtimes=fake_runtimes, clock=clock,
                                            factory=constant_factory(clock, {"a": 1.0})))
    assert [(r["artifact"]["name"], r["status"]) for r in records] == [("gone", "failed"), ("a", "ok"), ("a", "ok")]
    gone = records[0]
    assert "model file model.bin is missing" in gone["reason"] and gone["runtime"]["name"] == "(none)"
    assert (gone["artifact"]["format"], gone["artifact"]["quantization"], gone["latency"]) == ("onnx", "fp16", None)
    assert all(validate_record(r) == [] for r in records)


def test_no_artifacts_and_bad_options_are_user_errors(tmp_path):
    with pytest.raises(DataError, match="no artifacts to bench"):
        bench_artifacts(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        bench_artifacts(tmp_path / "missing")
    with pytest.raises(UsageError, match="--batch"):
        BenchOptions(batch=1).check()
    with pytest.raises(UsageError, match="--runs"):
        BenchOptions(runs=0).check()


def test_parse_threads():
    import os

    assert parse_threads("1,2") == (1, 2)
    assert parse_threads("1, all, 1") == (1, os.cpu_count())
    with pytest.raises(UsageError, match="counts or 'all'"):
        parse_threads("one")
    with pytest.raises(UsageError, match="between 1 and"):
        parse_threads("0")


def test_thread_counts_are_1_to_4_per_core(monkeypatch):
    from edgevit.bench.options import max_threads

    monkeypatch.setattr("os.cpu_count", lambda: 3)
    assert max_threads() == 12 and parse_threads("12,all") == (12, 3)
    for text in ("13", "1,2,100", "-1"):
        with pytest.raises(UsageError) as caught:
            parse_threads(text)
        assert str(caught.value).startswith("--threads counts must be between 1 and 12 (4 x this machine's 3 cores), got ")
    with pytest.raises(UsageError, match="between 1 and 12"):
        BenchOptions(threads=(1, 13)).check()


def test_bench_cli_errors_are_one_line_exit_codes(tmp_path, capsys):
    from edgevit.cli import main

    assert main(["bench", str(tmp_path / "missing"), "--out", str(tmp_path / "r.json")]) == 3
    assert main(["bench", str(tmp_path), "--devices", "tpu", "--out", str(tmp_path / "r.json")]) == 2
    assert main(["bench", str(tmp_path), "--threads", "0", "--out", str(tmp_path / "r.json")]) == 2
    assert main(["bench", "--out", str(tmp_path / "r.json")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("edgevit: error: ") for line in errors)
    assert "no such folder" in errors[0] and "--devices takes cpu, gpu" in errors[1]
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("flags, message", [
    (["--threads", "100000"], "--threads counts must be between 1 and "),
    (["--threads", "1,0"], "--threads counts must be between 1 and "),
    (["--runs", "0"], "--runs must be at least 1, got 0"),
    (["--peak-n", "0"], "--peak-n must be at least 64, got 0"),
])
def test_bench_ranges_are_checked_before_anything_is_measured_or_written(tmp_path, capsys, flags, message):
    from edgevit.cli import main

    artifacts = tmp_path / "artifacts"
    write_fake_artifact(artifacts, "tflite-fp32")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["bench", str(artifacts), *flags, "--out", str(tmp_path / "r.json")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"edgevit: error: {message}")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_verify_threads_range_is_checked_before_anything_runs(tmp_path, capsys):
    from edgevit.cli import main

    artifacts = tmp_path / "artifacts"
    write_fake_artifact(artifacts, "tflite-fp32")
    assert main(["verify", str(artifacts), "--threads", "0", "--json", str(tmp_path / "v.json")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "--threads counts must be between 1 and " in errors[0]
    assert not (tmp_path / "v.json").exists()


def _index(root, *entries):
    import json

    (root / "artifacts.json").write_text(json.dumps({"schema_version": 1, "kind": "artifacts", "artifacts": [
        {"name": name, "format": "tflite", "quantization": "fp32", "status": status, "error": None} for name, status in entries]}))


def test_index_entries_whose_folders_are_missing_are_a_warning_each(tmp_path, no_gpu, caplog):
    import logging

    write_fake_artifact(tmp_path, "tflite-fp32")
    _index(tmp_path, ("tflite-fp32", "ok"), ("tflite-int8", "ok"), ("onnx-fp32", "ok"), ("coreml-fp16", "failed"))
    clock = FakeClock()
    options = BenchOptions(threads=(1,), runs=2, warmup=0, batch_runs=1, devices=("cpu",), isolate=False, **FAST_PEAK)
    with caplog.at_level(logging.WARNING, logger="edgevit.bench.targets"):
        records = bench_artifacts(tmp_path, options=options, runtimes=fake_runtimes, clock=clock,
                                  factory=constant_factory(clock, {"tflite-fp32": 1.0}))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{tmp_path / 'artifacts.json'} lists {name!r} as built, but {tmp_path / name} is missing; "
                        "it is not measured (export it again to bench it)" for name in ("tflite-int8", "onnx-fp32")]
    # The folder that is there is measured; the failed export (no folder expected) is its own record, not a warning.
    statuses = {(r["artifact"]["name"], r["status"]) for r in bench_records(records)}
    assert ("tflite-fp32", "ok") in statuses and ("coreml-fp16", "export failed") in statuses
    assert not {name for name, _ in statuses} & {"tflite-int8", "onnx-fp32"}


def test_an_index_whose_every_artifact_is_missing_is_an_error(tmp_path, capsys):
    from edgevit.cli import main

    _index(tmp_path, ("tflite-fp32", "ok"), ("onnx-fp32", "ok"))
    assert main(["bench", str(tmp_path), "--threads", "1", "--out", str(tmp_path / "r.json")]) == DataError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"edgevit: error: {tmp_path}: no artifacts to bench; artifacts.json lists tflite-fp32, onnx-fp32 "
                       "but their folders are missing; run `edgevit export` again")
    assert len(err) == 3 and all("is missing; it is not measured" in line for line in err[:2])  # a warning each, then the error
    assert not (tmp_path / "r.json").exists()


def test_runtime_settings_are_extra_rows_next_to_the_defaults(tmp_path, no_gpu):
    from edgevit.report.rows import build_rows
    from edgevit.runners.options import parse_setting

    write_fake_artifact(tmp_path, "a")
    clock, seen = FakeClock(), []

    def factory(target, *, runtime, device, threads, settings=None):
        seen.append(settings)
        ms = 2.0 if settings else 4.0  # the setting halves the time
        return ScriptedRunner(clock, lambda batch: ms * batch, device=device, threads=threads)

    setting = ("fake", (("spinning", False),))  # what parse_setting gives, for the fake runtime
    options = BenchOptions(threads=(1,), runs=4, rounds=2, warmup=0, batch=2, batch_runs=1, devices=("cpu",), isolate=False,
                           settings=(setting,), **FAST_PEAK)
    records = bench_records(bench_artifacts(tmp_path, options=options, factory=factory, runtimes=fake_runtimes, clock=clock))
    assert seen == [None, {"spinning": False}]
    assert [r["runtime"]["details"].get("settings") for r in records] == [None, {"spinning": False}]
    assert [r["latency"]["p50_ms"] for r in records] == [4.0, 2.0]
    assert sorted(row.runtime for row in build_rows(records)) == ["fake", "fake (spinning=false)"]
    assert all(validate_record(r) == [] for r in records)


@pytest.mark.parametrize("text, message", [
    ("onnxruntime", "--setting takes RUNTIME:KEY=VALUE"),
    ("nosuch:x=1", "--setting takes RUNTIME:KEY=VALUE"),
    ("onnxruntime:graph_optimization=fast", "graph_optimization takes one of disable, basic, extended, all"),
    ("litert:xnnpack_latest=maybe", "xnnpack_latest takes true or false"),
    ("savedmodel:threads=2", "savedmodel knows jit_compile, onednn"),
])
def test_bad_runtime_settings_are_one_line_usage_errors(text, message):
    from edgevit.runners.options import parse_setting

    with pytest.raises(UsageError, match=message):
        parse_setting(text)
    assert parse_setting("onnxruntime:graph_optimization=basic,spinning=off") == (
        "onnxruntime", (("graph_optimization", "basic"), ("spinning", False)))
