"""Rows -> report.html: one self-contained page (inline CSS and SVG, no script, no network).

Table cells show the same strings as report.md; each numeric cell also carries the record's exact
value in `data-value`, so tools and tests can read the numbers without parsing rounded text.
"""

from __future__ import annotations

from html import escape

from edgevit.report.charts import distribution_chart, latency_chart, tradeoff_chart
from edgevit.report.fitgate import html_section
from edgevit.report.markdown import (COLUMNS, HOW_MEASURED, SUPPORT_COLUMNS, SUPPORT_HOW, SUPPORT_TITLE, cells, gate_section, notes,
                                     protocol, support_cells)
from edgevit.report.rows import GateLine, Peak, Row, Support, fmt_count, fmt_rate, groups, machine_sections

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#111827;background:#f9fafb;line-height:1.45}
main{max-width:1480px;margin:0 auto;padding:24px 20px 64px}
h1{font-size:26px;margin:0 0 6px}h2{font-size:20px;margin:36px 0 6px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
h3{font-size:16px;margin:26px 0 8px}
p.meta,p.machine{color:#4b5563;margin:4px 0}p.how{font-size:13px;color:#374151;background:#fff;border:1px solid #e5e7eb;
border-radius:6px;padding:10px 12px}
.scroll{overflow-x:auto;background:#fff;border:1px solid #e5e7eb;border-radius:6px}
table{border-collapse:collapse;font-size:12.5px;white-space:nowrap}
th,td{padding:5px 6px;border-bottom:1px solid #f3f4f6;text-align:left}
th{background:#f3f4f6;font-weight:600;white-space:normal;vertical-align:bottom;min-width:3.5em}
.status{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600}
.status.ok{background:#dcfce7;color:#166534}.status.not-available{background:#f3f4f6;color:#4b5563}
.status.failed,.status.export-failed{background:#fee2e2;color:#991b1b}.status.parity-failed{background:#fef3c7;color:#92400e}
.status.parity-inconclusive{background:#e0e7ff;color:#3730a3}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.not-ok td{color:#6b7280}
pre.commands{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:8px 10px;overflow-x:auto}
p.busy{background:#fef3c7;border:1px solid #fcd34d;border-radius:6px;padding:8px 12px;color:#92400e}
ul.notes{font-size:13px;color:#374151;margin:6px 0 0 0;padding-left:20px}
.charts{display:grid;align-items:start;grid-template-columns:repeat(auto-fit,minmax(min(100%,600px),1fr));gap:14px;margin-top:14px}
figure{margin:0;background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:8px}
figure svg{max-width:100%;height:auto;display:block}
"""

# Which Row attribute each numeric column shows (data-value holds it unrounded).
NUMERIC = {
    "Size (MB)": "size_bytes", "Accuracy [95% CI]": "accuracy", "Agreement [95% CI]": "agreement", "p50 (ms)": "p50_ms", "p90 (ms)": "p90_ms",
    "Speed-up vs SavedModel": "speedup", "GFLOP/s": "achieved_gflops", "% of GEMM peak": "fraction_of_peak",
    "Peak RSS (MB)": "peak_rss_bytes", "Load (ms)": "load_ms", "First inference (ms)": "first_inference_ms",
    "Throughput (img/s @ batch)": "batch_images_per_second",
}


def _cell(column: str, shown: str, row: Row) -> str:
    if column == "Status":  # a coloured badge: emoji fonts are not everywhere
        return f'<td><span class="status {row.status.replace(" ", "-")}">{escape(row.status)}</span></td>'
    if column not in NUMERIC:
        return f"<td>{escape(shown)}</td>"
    value = getattr(row, NUMERIC[column])
    data = "" if value is None else f' data-value="{value!r}"'
    return f'<td class="num" data-column="{escape(column)}"{data}>{escape(shown)}</td>'


def _table(rows: list[Row]) -> str:
    head = "".join(f'<th class="{"num" if c in NUMERIC else ""}">{escape(c)}</th>' for c in COLUMNS)
    body = []
    for row in rows:
        tds = "".join(_cell(column, shown, row) for column, shown in zip(COLUMNS, cells(row)))
        body.append(f'<tr class="{"measured" if row.measured else "not-ok"}" data-artifact="{escape(row.name)}" '
                    f'data-runtime="{escape(row.runtime)}">{tds}</tr>')
    return f'<div class="scroll"><table class="results"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _peak_table(peaks: list[Peak]) -> str:
    header = ("dtype", "backend", "op", "n", "threads", "best GFLOP/s", "median GFLOP/s")
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        f"<tr><td>{p.dtype}</td><td>{escape(p.backend)}</td><td>{escape(p.op)}</td><td class=num>{p.n}</td>"
        f"<td class=num>{fmt_count(p.threads)}</td><td class=num data-value=\"{p.gflops!r}\">{fmt_rate(p.gflops)}</td>"
        f"<td class=num data-value=\"{p.median_gflops!r}\">{fmt_rate(p.median_gflops)}</td></tr>" for p in peaks)
    return f'<div class="scroll"><table class="peaks"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _support_table(support: list[Support]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in SUPPORT_COLUMNS)
    body = "".join(f'<tr data-artifact="{escape(e.name)}">' + "".join(f"<td>{escape(v)}</td>" for v in support_cells(e)) + "</tr>"
                   for e in support)
    return f'<div class="scroll"><table class="support"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def render_html(rows: list[Row], peaks: list[Peak], machines: dict[str, dict], *, title: str, sources: list[str],
                commands: list[str] = (), gates: list[GateLine] = (), support: list[Support] = (), searches=()) -> str:
    out = [f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>"
           f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>", f"<h1>{escape(title)}</h1>"]
    if sources:
        out.append(f"<p class=meta>From {len(sources)} records file(s): " + ", ".join(f"<code>{escape(s)}</code>" for s in sources) + "</p>")
    if commands:
        out.append("<p class=meta>Made by these commands, in this order:</p><pre class=commands>"
                   + escape("\n".join(commands)) + "</pre>")
    out.append(f"<p class=how>{escape(HOW_MEASURED).replace('`', '')}</p>")
    if support:
        out += [f"<h2>{escape(SUPPORT_TITLE)}</h2>", f"<p class=meta>{escape(SUPPORT_HOW).replace('`', '')}</p>", _support_table(support)]
    for section in machine_sections(rows, peaks, machines):
        machine_id, mine, my_peaks = section.machine_id, section.rows, section.peaks
        out += [f"<h2>Machine <code>{escape(machine_id)}</code></h2>", f"<p class=machine>{escape(section.summary)}</p>"]
        if section.busy:
            out.append(f"<p class=busy>{escape(section.busy)}</p>")
        if my_peaks:
            out += ["<h3>Measured GEMM peak</h3>", _peak_table(my_peaks)]
        for group in groups(mine):
            in_group = [r for r in mine if r.group == group]
            how = protocol(in_group)
            out.append(f"<h3>{escape(group.title)}{' — ' + escape(how) if how else ''}</h3>")
            out.append(_table(in_group))
            items = [f"<li><b>{escape(status)}</b>: {escape(reason)} ({escape(', '.join(who))})</li>"
                     for status, reason, who in notes(in_group)]
            if items:
                out.append(f"<ul class=notes>{''.join(items)}</ul>")
            if not any(r.measured for r in in_group):
                out.append("<p class=meta>No charts: nothing was measured in this group (see the notes above).</p>")
                continue
            where = f"{group.title} on {machine_id}"
            out.append("<div class=charts>"
                       f"<figure>{latency_chart(in_group, f'Latency per artifact — {where}')}</figure>"
                       f"<figure>{tradeoff_chart(in_group, f'Accuracy vs latency vs size — {where}')}</figure>"
                       f"<figure>{distribution_chart(in_group, f'Latency distribution — {where}')}</figure></div>")
    fit = html_section(list(searches))
    if fit:
        out.append(fit)
    lines = gate_section(list(gates))
    if lines:
        items = "".join(f"<li>{escape(line[2:])}</li>" for line in lines if line.startswith("- "))
        out += ["<h2>Parity gates</h2>", f"<p class=how>{escape(lines[2]).replace('`', '')}</p>", f"<ul class=notes>{items}</ul>"]
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
