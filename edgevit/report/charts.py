"""The report's three charts, each an SVG string drawn from rows of one comparable group.

latency_chart: p50 bar, line to p90, diamond at p99, per artifact (failed / not available ones named).
tradeoff_chart: accuracy (y, with its 95% interval as a bar) against p50 latency (x), bubble area proportional to
file size; the y axis spans every interval and at least MIN_ACCURACY_SPAN points, so a few images never fill it.
distribution_chart: every timed sample as a dot, with p50/p90/p99 marks: outliers stay visible.
"""

from __future__ import annotations

from edgevit.report.rows import Row, fmt_pct_interval, fmt_mb, fmt_ms
from edgevit.report.svg import (Scale, circle, color_of, diamond, legend, line, padded_range, rect, svg, text, text_width, use_log,
                                x_axis, y_axis)

WIDTH = 820
ROW_HEIGHT = 26
MIN_ACCURACY_SPAN = 10.0  # percentage points shown at least on the accuracy axis


def row_label(row: Row) -> str:
    return f"{row.name} · {row.runtime}"


def _formats_legend(rows: list[Row], x: float, y: float) -> list[str]:
    formats = list(dict.fromkeys(r.format for r in rows))
    return legend(x, y, [(f, color_of(f)) for f in formats])


def latency_chart(rows: list[Row], title: str) -> str:
    label_w = max(text_width(row_label(r)) for r in rows) + 16
    left, right, top = label_w, WIDTH - 120, 46
    measured = [r for r in rows if r.measured]
    height = top + ROW_HEIGHT * len(rows) + 56
    body = [text(left, 18, title, weight="600", size=14)]
    body += _formats_legend(rows, left, 36)
    body.append(text(right, 36, "bar: p50 · line: to p90 · ◆ p99", anchor="end", fill="#4b5563"))
    bottom = top + ROW_HEIGHT * len(rows)
    if measured:
        values = [r.p99_ms or r.p90_ms or r.p50_ms for r in measured] + [r.p50_ms for r in measured]
        log = use_log(values)
        lo, hi = padded_range(values, log=log, zero=not log)
        scale = Scale(lo, hi, left, right, log=log)
        body += x_axis(scale, bottom, top, "batch-1 latency, ms")
    for i, row in enumerate(rows):
        y = top + i * ROW_HEIGHT + ROW_HEIGHT / 2
        body.append(text(left - 8, y + 4, row_label(row), anchor="end"))
        if row not in measured:
            body.append(text(left + 6, y + 4, row.status, fill="#6b7280"))
            continue
        color = color_of(row.format)
        x50, x90 = scale(row.p50_ms), scale(row.p90_ms)
        tip = f"{row.name}: p50 {fmt_ms(row.p50_ms)} ms, p90 {fmt_ms(row.p90_ms)} ms, p99 {fmt_ms(row.p99_ms)} ms"
        body.append(rect(scale.start, y - 8, x50 - scale.start, 16, fill=color, opacity=0.85, tooltip=tip))
        body.append(line(x50, y, x90, y, stroke="#111827", width=1.5))
        body.append(line(x90, y - 5, x90, y + 5, stroke="#111827", width=1.5))
        if row.p99_ms is not None:
            body.append(diamond(scale(row.p99_ms), y))
        body.append(text(WIDTH - 10, y + 4, f"p50 {fmt_ms(row.p50_ms)} ms", anchor="end"))
    return svg(WIDTH, height, title, body, description="Horizontal bars: batch-1 p50 latency per artifact; a line to p90 and a diamond at p99.")


def place_labels(bubbles: list[tuple[float, float, float, str]]) -> list[tuple[float, float, str]]:
    """(x, y, anchor) for each bubble's label: right of it, else below, else above, else right anyway;
    a spot is taken when it would cover another bubble or a label already placed."""
    boxes: list[tuple[float, float, float, float]] = [(x - r, y - r, x + r, y + r) for x, y, r, _ in bubbles]
    placed = []
    for i, (x, y, r, label) in enumerate(bubbles):
        w = text_width(label)
        candidates = [(x + r + 4, y + 4, "start", (x + r + 4, y - 8, x + r + 4 + w, y + 6)),
                      (x, y + r + 14, "middle", (x - w / 2, y + r + 2, x + w / 2, y + r + 16)),
                      (x, y - r - 6, "middle", (x - w / 2, y - r - 18, x + w / 2, y - r - 4))]
        others = [b for k, b in enumerate(boxes) if k != i]
        for lx, ly, anchor, box in candidates:
            if not any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in others):
                break
        else:
            lx, ly, anchor, box = candidates[0]
        boxes.append(box)
        placed.append((lx, ly, anchor))
    return placed


def tradeoff_chart(rows: list[Row], title: str) -> str:
    measured = [r for r in rows if r.measured]
    have_accuracy = any(r.accuracy is not None for r in measured)
    plotted = [r for r in measured if (r.accuracy is not None if have_accuracy else r.size_bytes is not None)]
    left, right, top, bottom = 80, WIDTH - 200, 46, 340
    body = [text(left, 18, title, weight="600", size=14)]
    if not plotted:
        body.append(text(left, 80, "nothing measured in this group", fill="#6b7280"))
        return svg(WIDTH, 120, title, body)
    xs = [r.p50_ms for r in plotted]
    log_x = use_log(xs, threshold=8)
    x_scale = Scale(*padded_range(xs, log=log_x), left, right, log=log_x)
    if have_accuracy:
        ys = [100 * r.accuracy for r in plotted]
        bounds = [100 * v for r in plotted for v in (r.accuracy_ci or (r.accuracy, r.accuracy))]
        low, high = min(bounds), max(bounds)
        pad = max(0.1 * (high - low), (MIN_ACCURACY_SPAN - (high - low)) / 2, 0.0)
        low, high = max(0.0, low - pad), min(100.0, high + pad)
        if high - low < MIN_ACCURACY_SPAN:  # pinned at 0 or 100: widen the other way
            low, high = (0.0, MIN_ACCURACY_SPAN) if low == 0.0 else (100.0 - MIN_ACCURACY_SPAN, 100.0)
        y_scale = Scale(low, high, bottom, top)
        y_label = "accuracy, % (bar: 95% interval)"
    else:
        ys = [r.size_bytes / 1e6 for r in plotted]
        log_y = use_log(ys, threshold=8)
        y_scale = Scale(*padded_range(ys, log=log_y), bottom, top, log=log_y)
        y_label = "file size, MB"
        body.append(text(left, 36, "no accuracy in these records (run `edgevit verify`): size against latency", fill="#b45309"))
    body += _formats_legend(plotted, left + (0 if have_accuracy else 420), 36)
    body += x_axis(x_scale, bottom, top, "batch-1 p50 latency, ms")
    body += y_axis(y_scale, left, right, y_label)
    biggest = max((r.size_bytes or 0) for r in plotted) or 1
    bubbles = []
    for row, y_value in zip(plotted, ys):
        radius = 4 + 14 * ((row.size_bytes or 0) / biggest) ** 0.5  # area grows with size
        x, y = x_scale(row.p50_ms), y_scale(y_value)
        tip = (f"{row.name}: p50 {fmt_ms(row.p50_ms)} ms, accuracy {fmt_pct_interval(row.accuracy, row.accuracy_ci)}, "
               f"agreement {fmt_pct_interval(row.agreement, row.agreement_ci)}, {fmt_mb(row.size_bytes)} MB")
        if have_accuracy and row.accuracy_ci:
            y_low, y_high = y_scale(100 * row.accuracy_ci[0]), y_scale(100 * row.accuracy_ci[1])
            body.append(line(x, y_low, x, y_high, stroke="#111827", width=1.2))
            body += [line(x - 4, yy, x + 4, yy, stroke="#111827", width=1.2) for yy in (y_low, y_high)]
        body.append(circle(x, y, radius, fill=color_of(row.format), opacity=0.55, stroke=color_of(row.format), tooltip=tip))
        bubbles.append((x, y, radius, f"{row.name} ({fmt_mb(row.size_bytes)} MB)"))
    for (x, y, anchor), (*_, label) in zip(place_labels(bubbles), bubbles):
        body.append(text(x, y, label, anchor=anchor))
    body.append(text(WIDTH - 10, bottom + 36, "bubble area ∝ file size", anchor="end", fill="#4b5563"))
    return svg(WIDTH, bottom + 50, title, body,
               description="Each artifact as a bubble: x is p50 latency, y is accuracy (or size), bubble area is file size.")


def distribution_chart(rows: list[Row], title: str) -> str:
    measured = [r for r in rows if r.measured and r.samples_ms]
    label_w = max((text_width(row_label(r)) for r in measured), default=60) + 16
    left, right, top = label_w, WIDTH - 20, 46
    band = 30
    height = top + band * max(len(measured), 1) + 56
    body = [text(left, 18, title, weight="600", size=14),
            text(left, 36, "every timed call is a dot (none dropped) · thick line: p50 · thin line: p90 · ◆ p99", fill="#4b5563")]
    if not measured:
        body.append(text(left, top + 20, "nothing measured in this group", fill="#6b7280"))
        return svg(WIDTH, height, title, body)
    values = [s for r in measured for s in r.samples_ms]
    log = use_log(values)
    scale = Scale(*padded_range(values, log=log), left, right, log=log)
    bottom = top + band * len(measured)
    body += x_axis(scale, bottom, top, "wall time of one batch-1 call, ms")
    for i, row in enumerate(measured):
        y0 = top + i * band
        body.append(text(left - 8, y0 + band / 2 + 4, row_label(row), anchor="end"))
        color = color_of(row.format)
        for k, sample in enumerate(row.samples_ms):
            jitter = ((k * 0.6180339887) % 1.0 - 0.5) * (band - 12)  # golden-ratio spread: deterministic, even
            body.append(circle(scale(sample), y0 + band / 2 + jitter, 2.2, fill=color, opacity=0.5))
        body.append(line(scale(row.p50_ms), y0 + 2, scale(row.p50_ms), y0 + band - 2, stroke="#111827", width=3))
        if row.p90_ms is not None:
            body.append(line(scale(row.p90_ms), y0 + 6, scale(row.p90_ms), y0 + band - 6, stroke="#111827", width=1.5))
        if row.p99_ms is not None:
            body.append(diamond(scale(row.p99_ms), y0 + band / 2))
    return svg(WIDTH, height, title, body, description="Strip plot of every timed batch-1 call per artifact.")
