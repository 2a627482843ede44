"""Rows -> report.md: one Ultralytics-style table per machine, device and thread count."""

from __future__ import annotations

from edgevit.report.fitgate import markdown_section
from edgevit.report.rows import (DASH, NOT_MEASURED_HERE, STATUS_LABELS, GateLine, Peak, Row, Support, fmt_count, fmt_interval,
                                 fmt_mb, fmt_ms, fmt_pct, fmt_pct_interval, fmt_rate, fmt_ratio, groups, machine_sections)

COLUMNS = ("Format", "Artifact", "Runtime", "Status", "Size (MB)", "Accuracy [95% CI]", "Agreement [95% CI]", "Parity measured by",
           "p50 (ms)", "p90 (ms)", "Timing", "Speed-up vs SavedModel", "GFLOP/s", "% of GEMM peak", "Roofline", "Peak RSS (MB)",
           "Load (ms)", "First inference (ms)", "Throughput (img/s @ batch)")

NO_RUNTIME = "(none)"  # the runtime of an artifact that was never built
DTYPE_SHORT = {"float32": "fp32", "int8": "int8"}

HOW_MEASURED = (
    "How to read it: p50/p90 are percentiles (linear interpolation, nothing clipped) of the wall time of batch-1 "
    "`predict` calls after the stated warm-up; every sample is in the JSON records. Speed-up = the SavedModel's p50 "
    "/ this p50 on the same machine, device and thread count. GFLOP/s = the model's counted FLOPs per image / p50; "
    "% of GEMM peak compares it with the best square matrix multiply measured in the same run at the same thread "
    "count, in the artifact's compute type (marked int8 for dynamic-range and int8 quantization, fp32 otherwise); "
    "the peak is the best median of repeated GEMMs before and after the artifacts (records before the interleaved bench: "
    "the fastest call), so over 100% means the machine was quieter while the artifact ran than at either peak measurement. "
    "Accuracy and agreement (top-1 equal to the SavedModel's), with their exact 95% intervals, appear only in a row "
    "whose own runtime and device measured them: `edgevit verify` on that runtime and device (its split and n are "
    "named), or a device's golden vectors (agreement only: a handful of images, no accuracy). Any other row says "
    "\"not measured here\". The SavedModel's row shows the accuracy verify measured for it, and no agreement: it is "
    "the reference. "
    "Peak RSS is the "
    "high-water memory of the process that loaded and ran that one artifact."
    " Newer records: the artifacts of one table were timed in interleaved rounds (A B C, B C A, ...) after a warm-up "
    "that ran until the latency settled (and, in records with round_warmup, that many untimed calls opening each round); [low–high] after p50 is its 95% interval, after a speed-up the 95% interval of "
    "the median of per-round ratios (each round times both artifacts side by side). Timing says \"disturbed\" when the "
    "spread (p90/p50), a first-half/second-half trend, the round-to-round spread, or a GEMM probe run before each round "
    "says the machine was busy (the reasons follow the table); on a virtual machine the probe also sees the host slow "
    "the CPU down, which this machine's own load and steal-time figures do not show. GEMM peaks are medians; Roofline is the higher of "
    "FLOPs / GEMM peak and file size / memory bandwidth (a STREAM-style triad of the same run), named by which it is, "
    "as a share of p50. Peak RSS is split into what importing the runtime added and what the model added (batch 1); "
    "p99 is shown from 100 samples only."
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
    p50 = fmt_ms(row.p50_ms) + fmt_interval(row.p50_interval, fmt_ms)
    speedup = fmt_ratio(row.speedup) + fmt_interval(row.speedup_interval, fmt_ratio)
    timing = DASH if row.disturbed is None else "⚠️ disturbed" if row.disturbed else "quiet"
    roofline = f"{row.bound} {fmt_pct(row.fraction_of_roofline)}" if row.bound and row.fraction_of_roofline is not None else DASH
    rss = fmt_mb(row.peak_rss_bytes)
    if row.runtime_import_bytes is not None and row.model_bytes is not None:
        rss += f" (import {fmt_mb(row.runtime_import_bytes)} + model {fmt_mb(row.model_bytes)})"
    return [f"{row.format}{quant}", row.name, runtime, STATUS_LABELS.get(row.status, row.status), fmt_mb(row.size_bytes),
            fmt_pct_interval(row.accuracy, row.accuracy_ci),
            "reference" if row.is_reference else fmt_pct_interval(row.agreement, row.agreement_ci),
            parity_source(row), p50, fmt_ms(row.p90_ms), timing, speedup,
            gflops, peak, roofline, rss, fmt_ms(row.load_ms), fmt_ms(row.first_inference_ms), batch]


def parity_source(row: Row) -> str:
    if row.parity_source is None:
        return NOT_MEASURED_HERE if row.runtime != NO_RUNTIME else DASH
    return row.parity_source + (f", n={row.parity_count}" if row.parity_count is not None and "n=" not in row.parity_source else "")


def gate_section(gates: list[GateLine]) -> list[str]:
    """Which gate each verified artifact was judged by, where it came from, and the verdict, as Markdown lines."""
    if not gates:
        return []
    lines = ["## Parity gates", "",
             "Each artifact's gate as `edgevit verify` applied it: passed when every 95% interval clears it, parity "
             "failed when one lies wholly beyond it, inconclusive when the split was too small to tell.", ""]
    for g in gates:
        looser = f"; looser than the default: {', '.join(g.looser)}" if g.looser else ""
        lines.append(f"- {g.name} on {g.runtime}: {g.meaning}; from {g.source}{looser}. Verdict: {g.verdict} (n={fmt_count(g.count)}).")
    return lines + [""]


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
                    commands: list[str] = (), gates: list[GateLine] = (), support: list[Support] = (), searches=()) -> str:
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
            lines += [f"- ⚠️ disturbed: {r.name} on {r.runtime}: {'; '.join(r.disturbed_reasons)}" for r in in_group if r.disturbed]
            scopes = sorted({r.memory_scope for r in in_group if r.memory_scope})
            lines += [f"- Peak RSS scope: {scope}" for scope in scopes]
            if lines:
                out += ["", *lines]
            out.append("")
    out += markdown_section(list(searches))
    out += gate_section(list(gates))
    return "\n".join(out).rstrip() + "\n"
