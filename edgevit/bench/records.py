"""The bench's records (edgevit.records): peaks, one per measurement, one per target never measured; and their progress lines."""

from __future__ import annotations

from edgevit.artifact import Artifact
from edgevit.formats import REFERENCE_FORMAT
from edgevit.bench.compute import compute_block, peak_dtype
from edgevit.bench.options import CPU, BenchOptions
from edgevit.bench.peak import BACKENDS, measure_bandwidth, measure_peak, scaled_n
from edgevit.bench.targets import NO_RUNTIME, Job, target_name
from edgevit.fsutil import folder_size
from edgevit.model_cost import model_block
from edgevit.records import artifact_block, new_record, verify_record_for
from edgevit.savedmodel.source import savedmodel_fingerprint

PRODUCER = "edgevit bench"


def target_block(target: Artifact) -> dict:
    """The record's artifact block (edgevit.records.artifact_block) of an artifact or of the SavedModel."""
    if target.format == REFERENCE_FORMAT:
        # A folder with no single model file: no sha256; its fingerprint is the one its artifacts record as their source.
        described = {"format": REFERENCE_FORMAT.value, "quantization": "none", "file": ".", "file_size": folder_size(target.folder),
                     "source": {"fingerprint": savedmodel_fingerprint(target.folder)}}
        return artifact_block(described, name=target_name(target))
    return artifact_block(target.manifest, name=target_name(target))


def peak_records(options: BenchOptions, *, machine: dict, versions: dict, command: str | None = None) -> list[dict]:
    """One `peak` record per (dtype, backend) and thread count; n grows with the thread count (peak.scaled_n)."""
    records = []
    for threads in options.threads:
        for dtype, backend in BACKENDS:
            out = measure_peak(dtype, backend, threads=threads, n=scaled_n(options.peak_n, threads), warmup=options.peak_warmup,
                               runs=options.peak_runs)
            records.append(new_record(kind="peak", status=out["status"], reason=out["reason"], machine=machine,
                                      tool_versions=versions, producer=PRODUCER, peak=out["peak"], command=command))
    return records


def bandwidth_records(options: BenchOptions, *, machine: dict, versions: dict, command: str | None = None) -> list[dict]:
    """One `bandwidth` record (STREAM-style triad) per thread count."""
    records = []
    for threads in options.threads:
        out = measure_bandwidth(threads=threads, array_bytes=options.bandwidth_mib * 2**20)
        records.append(new_record(kind="bandwidth", status=out["status"], reason=out["reason"], machine=machine,
                                  tool_versions=versions, producer=PRODUCER, bandwidth=out["bandwidth"], command=command))
    return records


def unmeasured_record(failure: dict, *, machine: dict, versions: dict, command: str | None) -> dict:
    """The record of a target that was never measured (edgevit.bench.targets' failures)."""
    return new_record(kind="bench", status=failure["status"], reason=failure["reason"], machine=machine, tool_versions=versions,
                      producer=PRODUCER, artifact=failure["artifact"],
                      runtime={"name": NO_RUNTIME, "version": None, "device": CPU, "threads": None, "emulated": False, "details": {}},
                      command=command)


def bench_record(job: Job, result: dict, *, machine: dict, versions: dict, peaks: dict, parity: dict | None,
                 command: str | None, bandwidths: dict | None = None) -> dict:
    """The record of one measurement (`result` from edgevit.bench.measure, or a "not available" stand-in)."""
    model = model_block(job.target.manifest.get("model"))
    runtime = result.get("runtime") or {"name": job.runtime, "version": None, "device": job.device,
                                        "threads": job.threads, "emulated": False, "details": {}}
    return new_record(
        kind="bench", status=result["status"], reason=result.get("reason"), machine=machine, tool_versions=versions, producer=PRODUCER,
        artifact=target_block(job.target), runtime={**runtime, "device": job.device}, model=model,
        load_ms=result.get("load_ms"), first_inference_ms=result.get("first_inference_ms"),
        latency=result.get("latency"), throughput=result.get("throughput") or [], memory=result.get("memory"),
        compute=compute_block(model, result, dtype=peak_dtype(job.target), peaks=peaks, threads=job.threads,
                              bandwidths=bandwidths, weight_bytes=target_block(job.target).get("file_size")),
        parity=parity, command=command,
    )


def parity_for(job: Job, verify_records: list[dict]) -> dict | None:
    """The parity block of the verify record about this job's artifact measured on the job's own runtime and device."""
    record = verify_record_for(verify_records, artifact={"sha256": job.target.manifest.get("sha256"), "name": target_name(job.target)},
                               runtime=job.runtime, device=job.device)
    return record["parity"] if record else None


def describe(record: dict) -> str:
    """One progress line saying what was measured and how."""
    if record["kind"] == "peak":
        if record["status"] != "ok":
            return f"[peak] {record['status']}: {record['reason']}"
        p = record["peak"]
        return (f"[peak] {p['dtype']} {p['backend']} {p['op']}, {p['threads']} thread(s): median {p['median_gflops']:.1f} GFLOP/s, "
                f"best {p['gflops']:.1f} (of {p['runs']} {p['n']}x{p['n']} GEMMs after {p['warmup']} warm-ups)")
    if record["kind"] == "bandwidth":
        if record["status"] != "ok":
            return f"[bandwidth] {record['status']}: {record['reason']}"
        b = record["bandwidth"]
        return (f"[bandwidth] {b['op']}, {b['threads']} thread(s): median {b['median_gbps']:.1f} GB/s, best {b['gbps']:.1f} "
                f"(of {b['runs']} passes over 3 x {b['array_bytes'] / 2**20:.0f} MiB arrays)")
    a, rt = record["artifact"], record["runtime"]
    where = f"{a['name']} on {rt['name']} {rt['device']}" + (f" x{rt['threads']}" if rt.get("threads") else "")
    if record["status"] != "ok":
        return f"[bench] {where}: {record['status']}: {record['reason']}"
    lat, mem = record["latency"], record["memory"]
    interval = lat.get("p50_interval_ms")
    ci = f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
    flag = ", DISTURBED: " + "; ".join(lat["stability"]["reasons"]) if (lat.get("stability") or {}).get("disturbed") else ""
    return (f"[bench] {where}: p50 {lat['p50_ms']:.3f} ms{ci}, p90 {lat['p90_ms']:.3f} ms (batch 1, {lat['runs']} runs in "
            f"{lat.get('rounds', 1)} interleaved rounds after {lat['warmup']} warm-up calls), load {record['load_ms']:.0f} ms, "
            f"peak RSS {mem['peak_rss_bytes'] / 2**20:.0f} MiB{flag}")
