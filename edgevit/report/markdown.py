"""Rows -> report.md: one Ultralytics-style table per machine, device and thread count."""

from __future__ import annotations

from edgevit.report.rows import (DASH, STATUS_LABELS, Peak, Row, Support, fmt_count, fmt_mb, fmt_ms, fmt_pct, fmt_rate,
                                 fmt_ratio, groups, machine_sections)

COLUMNS = ("Format", "Artifact", "Runtime", "Status", "Size (MB)", "Accuracy", "Agreement", "p50 (ms)", "p90 (ms)",
           "Speed-up vs SavedModel", "GFLOP/s", "% of GEMM peak", "Peak RSS (MB)", "Load (ms)", "First inference (ms)",
           "Throughput (img/s @ batch)")

NO_RUNTIME = "(none)"  # the runtime of an artifact that was never built
DTYPE_SHORT = {"float32": "fp32", "int8": "int8"}

HOW_MEASURED = (
    "How to read it: p50/p90 are percentiles (linear interpolation, nothing clipped) of the wall time of batch-1 "
    "`predict` calls after the stated warm-up; every sample is in the JSON records. Speed-up = the SavedModel's p50 "
    "/ this p50 on the same machine, device and thread count. GFLOP/s = the model's counted FLOPs per image / p50; "
    "% of GEMM peak compares it with the best square matrix multiply measured in the same run at the same thread "
    "count, in the artifact's compute type (marked int8 for dynamic-range and int8 quantization, fp32 otherwise); "
    "the peak is the fastest of repeated GEMMs before and after the artifacts, so over 100% means the machine was "
    "quieter while the artifact ran than at either peak measurement. "
    "Accuracy and agreement (top-1 equal to the SavedModel's) come from `edgevit verify`. Peak RSS is the "
    "high-water memory of the process that loaded and ran that one artifact."
)


SUPPORT_TITLE = "Which runtimes load each artifact"
SUPPORT_COLUMNS = ("Artifact", "Format", "Oldest runtime that loads it")
SUPPORT_HOW = ("From each artifact's manifest (`runtime_support`, written at export from the model's own version stamps: "
               "a .tflite's min_runtime_version metadata and op versions, an ONNX file's IR version and opsets against "
               "ONNX Runtime's published table, a Core ML spec version against coremltools' deployment targets).")
NOT_RECORDED = "not recorded (exported before edgevit recorded it: re-export)"


def support_cells(entry: Support) -> list[str]:
    quant = "" if entry.quantization == "none" else f" {entry.quantization}"
    return [entry.name, f"{entry.format}{quant}", entry.loads_in or NOT_RECORDED]


def cells(row: Row) -> list[str]:
    """The printed cells of one row, in COLUMNS order (HTML shows the same strings)."""
    runtime = row.runtime  # versions are listed once per machine (runtime_versions)
    if row.emulated:
        runtime += " (emulated)"
    quant = "" if row.quantization == "none" else f" {row.quantization}"
    batch = f"{fmt_rate(row.batch_images_per_second)} @ {row.batch}" if row.batch else DASH
    gflops = fmt_rate(row.achieved_gflops)
    peak = f"{fmt_pct(row.fraction_of_peak)} {DTYPE_SHORT.get(row.peak_dtype, row.peak_dtype)}" if row.fraction_of_peak is not None else DASH
    return [f"{row.format}{quant}", row.name, runtime, STATUS_LABELS.get(row.status, row.status), fmt_mb(row.size_bytes),
            fmt_pct(row.accuracy), fmt_pct(row.agreement), fmt_ms(row.p50_ms), fmt_ms(row.p90_ms), fmt_ratio(row.speedup),
            gflops, peak, fmt_mb(row.peak_rss_bytes), fmt_ms(row.load_ms), fmt_ms(row.first_inference_ms), batch]


def protocol(rows: list[Row]) -> str:
    """'batch 1, 50 timed runs after 5 warm-ups' when every measured row used the same, else each distinct one."""
    seen = sorted({(r.runs, r.warmup) for r in rows if r.runs is not None})
    return "; ".join(f"batch 1, {runs} timed runs after {warmup} warm-up{'s' if warmup != 1 else ''}" for runs, warmup in seen)


def notes(rows: list[Row]) -> list[tuple[str, str, list[str]]]:
    """(status, reason, ["artifact on runtime", ...]) for every row with a reason, rows sharing a reason merged."""
    merged: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.reason:
            merged.setdefault((r.status, r.reason), []).append(r.name if r.runtime == NO_RUNTIME else f"{r.name} on {r.runtime}")
    return [(status, reason, who) for (status, reason), who in merged.items()]


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    def line(values):
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, body)]


def render_markdown(rows: list[Row], peaks: list[Peak], machines: dict[str, dict], *, title: str, sources: list[str],
                    commands: list[str] = (), support: list[Support] = ()) -> str:
    out = [f"# {title}", ""]
    if sources:
        out += [f"From {len(sources)} records file(s): " + ", ".join(f"`{s}`" for s in sources), ""]
    if commands:
        out += ["Made by these commands, in this order:", "", "```", *commands, "```", ""]
    out += [HOW_MEASURED, ""]
    if support:
        out += [f"## {SUPPORT_TITLE}", "", SUPPORT_HOW, "", *_table(list(SUPPORT_COLUMNS), [support_cells(e) for e in support]), ""]
    for section in machine_sections(rows, peaks, machines):
        mine, my_peaks = section.rows, section.peaks
        out += [f"## Machine `{section.machine_id}`", "", section.summary, ""]
        if section.busy:
            out += [f"> ⚠️ {section.busy}", ""]
        if my_peaks:
            out += ["### Measured GEMM peak", ""]
            out += _table(["dtype", "backend", "op", "n", "threads", "best GFLOP/s", "median GFLOP/s"],
                          [[p.dtype, p.backend, p.op, str(p.n), fmt_count(p.threads), fmt_rate(p.gflops), fmt_rate(p.median_gflops)]
                           for p in my_peaks])
            out.append("")
        for group in groups(mine):
            in_group = [r for r in mine if r.group == group]
            how = protocol(in_group)
            out += [f"### {group.title}" + (f" — {how}" if how else ""), ""]
            out += _table(list(COLUMNS), [cells(r) for r in in_group])
            lines = [f"- {status}: {reason} ({', '.join(who)})" for status, reason, who in notes(in_group)]
            if lines:
                out += ["", *lines]
            out.append("")
    return "\n".join(out).rstrip() + "\n"
