"""Records -> the rows every report format shows, and the one way each number is printed.

The values in a Row are the records' values, never recomputed from samples; the only derived numbers
are ratios between records of the same machine, device and thread count (speed-up over the
SavedModel), and they are computed here once. Markdown and HTML both render these rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from edgevit.formats import REFERENCE_FORMAT, REFERENCE_RUNTIME, Format
from edgevit.records import STATUS_OK, verify_record_for

P99_MIN_SAMPLES = 100  # edgevit.bench.run's rule, applied to older records too

STATUS_LABELS = {
    "ok": "✅ ok",
    "not available": "➖ not available",
    "failed": "❌ failed",
    "export failed": "❌ export failed",
    "parity failed": "⚠️ parity failed",
    "parity inconclusive": "❔ parity inconclusive",
    "cannot verify": "❔ cannot verify",
}
NOT_MEASURED_HERE = "not measured here"
FORMAT_ORDER = {fmt.value: k for k, fmt in enumerate(Format)}  # the reference first, then the table's order


@dataclass(frozen=True)
class Group:
    """Rows that are comparable: one machine, one device, one thread count."""

    machine_id: str
    device: str
    threads: int | None

    @property
    def title(self) -> str:
        threads = "" if self.threads is None else f", {self.threads} thread{'s' if self.threads != 1 else ''}"
        return f"{self.device.upper()}{threads}"


@dataclass(frozen=True)
class Row:
    group: Group
    name: str
    format: str
    quantization: str
    runtime: str
    runtime_version: str | None
    emulated: bool
    status: str
    reason: str | None
    size_bytes: int | None
    accuracy: float | None
    agreement: float | None
    parity_source: str | None  # what measured accuracy/agreement for THIS runtime and device; None: nothing did
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    min_ms: float | None
    runs: int | None
    warmup: int | None
    speedup: float | None  # SavedModel p50 / this p50, same group
    achieved_gflops: float | None
    fraction_of_peak: float | None
    peak_dtype: str | None
    peak_rss_bytes: int | None
    load_ms: float | None
    first_inference_ms: float | None
    batch: int | None  # the larger throughput batch
    batch_images_per_second: float | None
    samples_ms: tuple[float, ...] = field(default=(), repr=False)
    load_average: float | None = None  # 1-minute load average when the measurement started
    accuracy_ci: tuple[float, float] | None = None
    agreement_ci: tuple[float, float] | None = None
    parity_count: int | None = None
    is_reference: bool = False
    p50_interval: tuple[float, float] | None = None  # 95% interval of p50 (records from interleaved benches)
    speedup_interval: tuple[float, float] | None = None  # of the paired, round-by-round speed-up
    disturbed: bool | None = None  # None: a record from before the flag existed
    disturbed_reasons: tuple[str, ...] = ()
    bound: str | None = None  # roofline: "compute" or "memory"
    fraction_of_roofline: float | None = None
    runtime_import_bytes: int | None = None
    model_bytes: int | None = None
    memory_scope: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def measured(self) -> bool:
        """Timed (status ok or parity failed): has latency to plot and compare."""
        return self.p50_ms is not None


@dataclass(frozen=True)
class Peak:
    machine_id: str
    dtype: str
    backend: str
    op: str
    n: int
    threads: int | None
    gflops: float
    median_gflops: float


def _reference_parity(records: list[dict]) -> dict[str, dict]:
    """machine id -> a verify parity block whose reference (the SavedModel on that machine's CPU) was measured."""
    found = {}
    for r in records:
        parity = r.get("parity") or {}
        if r["kind"] == "verify" and parity.get("reference") == REFERENCE_RUNTIME and parity.get("reference_accuracy") is not None:
            found.setdefault(r["machine"]["id"], parity)
    return found


def _pair(values) -> tuple[float, float] | None:
    return tuple(values) if isinstance(values, list) and len(values) == 2 and None not in values else None


def _parity_cells(r: dict, verify: dict | None, reference: dict | None, is_reference: bool) -> dict:
    """accuracy, agreement, their intervals, n and source for one bench record: only numbers measured on its runtime and device."""
    if is_reference:
        if reference is None or (r.get("runtime") or {}).get("device", "cpu") != "cpu":
            return {}
        return dict(accuracy=reference["reference_accuracy"], parity_count=reference.get("count"),
                    parity_source=f"edgevit verify ({reference.get('split')} split, reference run)")
    own = r.get("parity")  # attached by bench (a verify on this runtime and device), or the device harness's golden vectors
    if own and own.get("split") == "golden":  # no labelled split: agreement on a handful of images, never an accuracy
        return dict(agreement=own.get("agreement"), parity_count=own.get("count"),
                    parity_source=f"golden vectors on this device (n={own.get('count')})")
    if verify is None and not own:
        return {}
    if not own and (r.get("runtime") or {}).get("details", {}).get("settings"):
        return {}  # bench --setting rows run with other runtime settings than verify did: their numbers were not checked
    parity = own or verify["parity"]
    runtime = (verify or r).get("runtime") or {}
    emulated = " (emulated)" if runtime.get("emulated") else ""
    return dict(accuracy=parity.get("accuracy"), agreement=parity.get("agreement"), accuracy_ci=_pair(parity.get("accuracy_ci")),
                agreement_ci=_pair(parity.get("agreement_ci")), parity_count=parity.get("count"),
                parity_source=f"edgevit verify ({parity.get('split')} split, {runtime.get('name')}{emulated} {runtime.get('device', 'cpu')})")


def build_rows(records: list[dict]) -> list[Row]:
    """One row per bench record, sorted by machine, device, threads, then format and name."""
    verifies = [r for r in records if r["kind"] == "verify"]
    reference_parity = _reference_parity(records)
    rows = []
    for r in records:
        if r["kind"] != "bench":
            continue
        artifact, runtime = r.get("artifact") or {}, r.get("runtime") or {}
        latency, compute = r.get("latency") or {}, r.get("compute") or {}
        machine_id = r["machine"]["id"]
        verify = verify_record_for(verifies, artifact=artifact, runtime=runtime.get("name"), device=runtime.get("device", "cpu"),
                                   machine=machine_id)
        is_reference = artifact.get("format") == REFERENCE_FORMAT
        parity = _parity_cells(r, verify, reference_parity.get(machine_id), is_reference)
        status, reason = r["status"], r.get("reason")
        verdict = (verify or {}).get("status")
        if status == STATUS_OK and verdict in ("parity failed", "parity inconclusive"):
            # Measured fine, but not shown to give the SavedModel's answers: that is what a reader must see first.
            status, reason = verdict, verify.get("reason") or "see `edgevit verify`"
        batched = [t for t in r.get("throughput") or [] if t["batch"] > 1 and t.get("status", STATUS_OK) == STATUS_OK]
        stability, paired, memory = latency.get("stability") or {}, latency.get("speedup") or {}, r.get("memory") or {}
        rows.append(Row(
            group=Group(machine_id, runtime.get("device", "cpu"), runtime.get("threads")),
            name=artifact.get("name", "?"), format=artifact.get("format", "?"), quantization=artifact.get("quantization", "?"),
            runtime=runtime.get("name", "?") + _settings_label((runtime.get("details") or {}).get("settings")),
            runtime_version=runtime.get("version"), emulated=bool(runtime.get("emulated")),
            status=status, reason=reason, size_bytes=artifact.get("file_size"),
            accuracy=parity.get("accuracy"), agreement=parity.get("agreement"), parity_source=parity.get("parity_source"),
            # p99 only from 100 samples or more: older records computed it from 50 (the largest sample or so).
            p50_ms=latency.get("p50_ms"), p90_ms=latency.get("p90_ms"),
            p99_ms=latency.get("p99_ms") if (latency.get("runs") or 0) >= P99_MIN_SAMPLES else None,
            min_ms=latency.get("min_ms"), runs=latency.get("runs"), warmup=latency.get("warmup"), speedup=paired.get("ratio"),
            achieved_gflops=compute.get("achieved_gflops"), fraction_of_peak=compute.get("fraction_of_peak"),
            peak_dtype=compute.get("peak_dtype"), peak_rss_bytes=(r.get("memory") or {}).get("peak_rss_bytes"),
            load_ms=r.get("load_ms"), first_inference_ms=r.get("first_inference_ms"),
            batch=batched[-1]["batch"] if batched else None,
            batch_images_per_second=batched[-1]["images_per_second"] if batched else None,
            samples_ms=tuple(latency.get("samples_ms") or ()),
            load_average=(runtime.get("details") or {}).get("load_average_1m"),
            accuracy_ci=parity.get("accuracy_ci"), agreement_ci=parity.get("agreement_ci"),
            parity_count=parity.get("parity_count"), is_reference=is_reference,
            p50_interval=tuple(latency["p50_interval_ms"]) if latency.get("p50_interval_ms") else None,
            speedup_interval=tuple(paired["interval"]) if paired.get("interval") else None,
            disturbed=stability.get("disturbed"), disturbed_reasons=tuple(stability.get("reasons") or ()),
            bound=compute.get("bound"), fraction_of_roofline=compute.get("fraction_of_roofline"),
            runtime_import_bytes=memory.get("runtime_import_bytes"), model_bytes=memory.get("model_bytes"),
            memory_scope=memory.get("scope"),
        ))
    rows = _with_speedups(_export_failures_in_every_cpu_group(rows))
    return sorted(rows, key=lambda row: (row.group.machine_id, row.group.device, row.group.threads or 0,
                                         FORMAT_ORDER.get(row.format, 9), row.name, row.runtime))


@dataclass(frozen=True)
class GateLine:
    """One artifact's gate as verify applied it: what it means, where it came from, the verdict and n."""

    name: str
    runtime: str
    meaning: str
    source: str
    looser: list[str]
    verdict: str
    count: int | None


def gate_lines(records: list[dict]) -> list[GateLine]:
    lines = []
    for r in records:
        parity = r.get("parity") or {}
        gate = parity.get("gate") or {}
        if r["kind"] != "verify" or not gate:
            continue
        lines.append(GateLine((r.get("artifact") or {}).get("name", "?"), (r.get("runtime") or {}).get("name", "?"),
                              gate.get("meaning") or ", ".join(f"{k} {v}" for k, v in gate.items() if k not in ("source",)),
                              gate.get("source") or "not recorded", gate.get("looser_than_default") or [],
                              r["status"] if r["status"] != STATUS_OK else "passed", parity.get("count")))
    return lines


def _settings_label(settings: dict | None) -> str:
    """' (graph_optimization=basic)' for a row bench measured with runtime settings (--setting), else ''."""
    if not settings:
        return ""
    return " (" + ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in settings.items()) + ")"


def _export_failures_in_every_cpu_group(rows: list[Row]) -> list[Row]:
    """An artifact that failed to export is missing from every measurement: show it in each CPU table."""
    failed = [r for r in rows if r.status == "export failed"]
    kept = [r for r in rows if r.status != "export failed"]
    cpu_groups = {r.group for r in kept if r.group.device == "cpu"}
    for row in failed:
        mine = [g for g in cpu_groups if g.machine_id == row.group.machine_id]
        kept += [replace(row, group=g) for g in mine] or [row]
    return kept


def _with_speedups(rows: list[Row]) -> list[Row]:
    """Records of an interleaved bench carry their paired speed-up; older ones get the ratio of p50s."""
    reference = {row.group: row.p50_ms for row in rows if row.format == REFERENCE_FORMAT and row.measured and row.p50_ms > 0}
    return [replace(row, speedup=reference[row.group] / row.p50_ms)
            if row.speedup is None and row.measured and row.p50_ms > 0 and row.group in reference else row for row in rows]


@dataclass(frozen=True)
class Support:
    """Which runtimes load one artifact, as its manifest's runtime_support summary states (copied into its records)."""

    name: str
    format: str
    quantization: str
    loads_in: str | None  # None: a manifest written before edgevit recorded it


def build_support(records: list[dict]) -> list[Support]:
    """One entry per exported artifact named in the records (the SavedModel is the reference, not shipped)."""
    found: dict[str, Support] = {}
    for r in records:
        artifact = r.get("artifact") or {}
        if r["kind"] not in ("bench", "verify") or not artifact.get("name") or artifact.get("format") == REFERENCE_FORMAT:
            continue
        known = found.get(artifact["name"])
        if known is None or (known.loads_in is None and artifact.get("loads_in")):
            found[artifact["name"]] = Support(artifact["name"], artifact.get("format", "?"), artifact.get("quantization", "?"),
                                              artifact.get("loads_in"))
    return sorted(found.values(), key=lambda s: (FORMAT_ORDER.get(s.format, 9), s.name))


def build_peaks(records: list[dict]) -> list[Peak]:
    peaks = [Peak(r["machine"]["id"], p["dtype"], p["backend"], p["op"], p["n"], p["threads"], p["gflops"], p["median_gflops"])
             for r in records if r["kind"] == "peak" and r["status"] == STATUS_OK for p in [r["peak"]]]
    return sorted(peaks, key=lambda p: (p.machine_id, p.threads or 0, p.dtype, p.backend))


def groups(rows: list[Row]) -> list[Group]:
    seen: list[Group] = []
    for row in rows:
        if row.group not in seen:
            seen.append(row.group)
    return seen


def machines(records: list[dict]) -> dict[str, dict]:
    return {r["machine"]["id"]: r["machine"] for r in records}


# ---------------------------------------------------------------------------------------------
# Printing: one function per kind of number, so Markdown and HTML show the same digits.

DASH = "–"


def fmt_ms(value: float | None) -> str:
    """Milliseconds with 3-4 significant digits: 0.412, 4.12, 41.23, 412.3."""
    if value is None:
        return DASH
    if value < 1:
        return f"{value:.3f}"
    if value < 100:
        return f"{value:.2f}"
    return f"{value:.1f}"


def fmt_mb(value: int | None) -> str:
    if value is None:
        return DASH
    mb = value / 1e6
    return f"{mb:.3f}" if mb < 1 else f"{mb:.2f}" if mb < 100 else f"{mb:.1f}"


def fmt_pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def fmt_pct_interval(value: float | None, interval: tuple[float, float] | None) -> str:
    """'93.3% [90.0–95.9]' (a fraction and its interval, in percent), or the value alone."""
    if value is None:
        return DASH
    return fmt_pct(value) + fmt_interval(interval, lambda v: f"{100 * v:.1f}")


def fmt_ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}x"


def fmt_interval(interval: tuple[float, float] | None, fmt) -> str:
    """' [low–high]' in the value's own format, or '' when there is none."""
    return "" if not interval else f" [{fmt(interval[0]).rstrip('x')}–{fmt(interval[1])}]"


def fmt_rate(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def fmt_count(value: int | None) -> str:
    return DASH if value is None else str(value)


def busy_warning(rows: list[Row], machine: dict) -> str | None:
    """A sentence when other work competed for the cores during these measurements, else None."""
    loads = [r.load_average for r in rows if r.load_average is not None]
    cores = machine["cpu_cores_logical"]
    if not loads or max(loads) <= cores:
        return None
    return (f"The machine was busy: the 1-minute load average reached {max(loads):.1f} on {cores} logical cores during "
            f"these measurements, so latencies are inflated and the multi-thread rows most of all.")


def machine_summary(machine: dict) -> str:
    cores = machine["cpu_cores_logical"]
    accel = ", ".join(a["name"] for a in machine.get("accelerators") or []) or "no GPU"
    return (f"{machine['cpu_model']} ({cores} logical core{'s' if cores != 1 else ''}), "
            f"{machine['memory_bytes'] / 2**30:.0f} GiB RAM, {machine['os']} {machine['os_release']} {machine['arch']}, {accel}")


def runtime_versions(rows: list[Row]) -> str:
    """'litert 2.3.0, onnxruntime 1.32.0' for the runtimes that measured something."""
    seen = dict.fromkeys(f"{r.runtime.split(' (')[0]} {r.runtime_version}" for r in rows if r.runtime_version)
    return ", ".join(seen)


@dataclass(frozen=True)
class MachineSection:
    """What every report format shows for one machine: its rows and peaks, and the sentences about it."""

    machine_id: str
    rows: list[Row]
    peaks: list[Peak]
    summary: str  # hardware, then the runtime versions that measured
    busy: str | None  # busy_warning's sentence, if any


def machine_sections(rows: list[Row], peaks: list[Peak], machines: dict[str, dict]) -> list[MachineSection]:
    """One section per machine that has rows or peaks, in the order of `machines`."""
    sections = []
    for machine_id, machine in machines.items():
        mine = [r for r in rows if r.group.machine_id == machine_id]
        my_peaks = [p for p in peaks if p.machine_id == machine_id]
        if not mine and not my_peaks:
            continue
        versions = runtime_versions(mine)
        summary = machine_summary(machine) + (f". Runtimes: {versions}." if versions else "")
        sections.append(MachineSection(machine_id, mine, my_peaks, summary, busy_warning(mine, machine)))
    return sections
