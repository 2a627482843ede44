"""A layer report (the layers.json document of `edgevit debug layers`) -> layers.md and layers.html.

The chart: SQNR per block (the patch embedding, each block's output, the final LayerNorm, the head's
logits), one line per artifact; the threshold is a dashed line and each artifact's first divergence
is circled. Exact boundaries (no noise) are drawn at the cap, 150 dB, and said so in the tooltip.
"""

from __future__ import annotations

from html import escape

from edgevit.formats import find_mode
from edgevit.report.html import CSS
from edgevit.report.svg import Scale, circle, color_of, legend, line, svg, text, y_axis

CAP_DB = 150.0
_CHAIN_KINDS = ("embedding", "block", "norm", "head")
_SHORT = {"embedding": "embed", "norm": "norm", "head": "head"}


def _db(row: dict) -> float | None:
    if row["status"] != "compared":
        return None
    if row["sqnr_db"] is None:
        return CAP_DB if row["exact"] else 0.0
    return max(0.0, min(CAP_DB, row["sqnr_db"]))


def _shown(row: dict) -> str:
    if row["status"] != "compared":
        return "missing"
    if row["sqnr_db"] is None:
        return "exact" if row["exact"] else "-inf"
    return f"{row['sqnr_db']:.1f}"


def render_markdown(document: dict) -> str:
    data, ref = document["data"], document["reference"]
    lines = ["# Layer-wise parity", "",
             f"Reference: `{ref['saved_model']}` (fingerprint {ref['fingerprint'][:12]}). Data: {data['images']} images of "
             f"`{data['root']}/{data['split']}`. Divergence threshold: SQNR below {document['threshold_db']:g} dB. "
             f"Whole run: {document['seconds']:.1f} s wall time.", "",
             "SQNR = 10 log10(sum ref² / sum (artifact − ref)²) over all images and elements; cosine over the same values; "
             "max abs = largest |artifact − ref|. 'exact': no difference at all.", ""]
    for artifact in document["artifacts"]:
        lines.append(f"## {artifact['name']} ({artifact['format']} {artifact['quantization']})")
        lines.append("")
        if artifact["status"] != "ok":
            lines += [f"**{artifact['status']}**: {artifact['reason']}", ""]
            continue
        first, drop = artifact["first_divergence"], artifact["largest_drop"]
        lines.append(f"- first divergence: " + (f"**{first['boundary']}** ({first['sqnr_db']} dB)" if first else
                                                 f"none (every boundary at or above {document['threshold_db']:g} dB)"))
        lines.append("- largest SQNR drop: " + (f"**Transformer_encoderblock_{drop['block']}** ({drop['drop_db']:.1f} dB)"
                                                 if drop else "none"))
        if artifact["missing"]:
            lines.append(f"- missing boundaries: {', '.join(artifact['missing'])}")
        lines.append(f"- captured and compared in {artifact['seconds']:.1f} s")
        lines += ["", "| boundary | SQNR (dB) | cosine | max abs error | artifact tensor / note |", "|---|---:|---:|---:|---|"]
        for row in artifact["boundaries"]:
            cosine = "–" if row["cosine"] is None else f"{row['cosine']:.6f}"
            max_abs = "–" if row["max_abs_error"] is None else f"{row['max_abs_error']:.3g}"
            where = row["note"] if row["status"] != "compared" else (row["artifact_tensor"] or "")
            if row["status"] == "compared" and row["note"]:
                where += f" ({row['note']})"
            mark = " ⚠" if first and row["boundary"] == first["boundary"] else ""
            lines.append(f"| {row['boundary']}{mark} | {_shown(row)} | {cosine} | {max_abs} | `{where}` |")
        lines.append("")
    if document.get("command"):
        lines += ["Command:", "", f"```\n{document['command']}\n```", ""]
    return "\n".join(lines)


def sqnr_chart(document: dict) -> str:
    """SQNR along the residual stream, one line per artifact."""
    artifacts = [a for a in document["artifacts"] if a["status"] == "ok"]
    chains = {a["name"]: [r for r in a["boundaries"] if r["kind"] in _CHAIN_KINDS] for a in artifacts}
    labels = next((
        [_SHORT.get(r["kind"], f"b{r['block']}") for r in rows] for rows in chains.values() if rows), [])
    width, height, left, right, top, bottom = 820, 360, 70, 20, 40, 60
    values = [v for rows in chains.values() for v in map(_db, rows) if v is not None] + [document["threshold_db"]]
    hi = max(values) if values else CAP_DB
    y = Scale(0.0, max(10.0, hi * 1.05), height - bottom, top)
    n = max(len(labels), 2)
    x_of = lambda i: left + i * (width - left - right) / (n - 1)  # noqa: E731
    body = y_axis(y, left, width - right, "SQNR (dB)")
    for i, label in enumerate(labels):
        body.append(text(x_of(i), height - bottom + 16, label, anchor="middle", fill="#4b5563"))
    body.append(text((left + width - right) / 2, height - 14, "boundary (residual stream, model order)", anchor="middle"))
    body.append(line(left, y(document["threshold_db"]), width - right, y(document["threshold_db"]), stroke="#dc2626", dash="5 4"))
    for artifact in artifacts:
        color = color_of(artifact["format"] or "")
        points = [(x_of(i), y(v), row) for i, row in enumerate(chains[artifact["name"]]) for v in [_db(row)] if v is not None]
        if len(points) > 1:
            path = " ".join(f"{'M' if k == 0 else 'L'}{px:.1f} {py:.1f}" for k, (px, py, _) in enumerate(points))
            mode = find_mode(artifact["format"] or "", artifact["quantization"] or "")
            float_mode = mode is not None and mode.gate.max_abs_error is not None
            dash = "" if float_mode else ' stroke-dasharray="6 3"'  # quantized modes dashed
            body.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        first = (artifact["first_divergence"] or {}).get("boundary")
        for px, py, row in points:
            tip = f"{artifact['name']} {row['boundary']}: {_shown(row)} dB"
            body.append(circle(px, py, 6 if row["boundary"] == first else 3, fill=color, stroke="#111827" if row["boundary"] == first else None,
                               tooltip=tip))
    body += legend(left, 20, [(a["name"], color_of(a["format"] or "")) for a in artifacts])
    return svg(width, height, "SQNR per block, one line per artifact", body,
               description=f"threshold {document['threshold_db']:g} dB dashed; exact boundaries drawn at {CAP_DB:g} dB")


def _html_row(row: dict) -> str:
    cosine = "" if row["cosine"] is None else f"{row['cosine']:.6f}"
    max_abs = "" if row["max_abs_error"] is None else f"{row['max_abs_error']:.3g}"
    where = row["artifact_tensor"] if row["status"] == "compared" else row["note"]
    value = "" if row["sqnr_db"] is None else row["sqnr_db"]
    return (f'<tr><td>{escape(row["boundary"])}</td><td class="num" data-value="{value}">{_shown(row)}</td>'
            f'<td class="num">{cosine}</td><td class="num">{max_abs}</td><td>{escape(where or "")}</td></tr>')


def _html_artifact(artifact: dict, threshold_db: float) -> str:
    head = f"<h2>{escape(artifact['name'])} ({escape(str(artifact['format']))} {escape(str(artifact['quantization']))})</h2>"
    if artifact["status"] != "ok":
        return head + f"<p><b>{escape(artifact['status'])}</b>: {escape(artifact['reason'] or '')}</p>"
    first, drop = artifact["first_divergence"], artifact["largest_drop"]
    first_text = f"{first['boundary']} ({first['sqnr_db']} dB)" if first else f"none (every boundary at or above {threshold_db:g} dB)"
    drop_text = f"Transformer_encoderblock_{drop['block']} ({drop['drop_db']:.1f} dB)" if drop else "none"
    missing = f"<li>missing boundaries: {escape(', '.join(artifact['missing']))}</li>" if artifact["missing"] else ""
    rows = "".join(_html_row(r) for r in artifact["boundaries"])
    return (head + f'<ul class="notes"><li>first divergence: <b>{escape(first_text)}</b></li>'
            f"<li>largest SQNR drop: <b>{escape(drop_text)}</b></li>{missing}</ul>"
            '<div class="scroll"><table><tr><th>boundary</th><th class="num">SQNR (dB)</th><th class="num">cosine</th>'
            f'<th class="num">max abs error</th><th>artifact tensor / note</th></tr>{rows}</table></div>')


def render_html(document: dict) -> str:
    """One self-contained page: the chart, then per artifact its summary and boundary table."""
    data, threshold = document["data"], document["threshold_db"]
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Layer-wise parity</title>'
            f"<style>{CSS}</style></head><body><main><h1>Layer-wise parity</h1>"
            f'<p class="meta">Reference {escape(document["reference"]["saved_model"])}; {data["images"]} images of '
            f'{escape(data["root"])}/{escape(data["split"])}; divergence: SQNR below {threshold:g} dB.</p>'
            f'<div class="charts"><figure>{sqnr_chart(document)}</figure></div>'
            + "".join(_html_artifact(a, threshold) for a in document["artifacts"]) + "</main></body></html>")
