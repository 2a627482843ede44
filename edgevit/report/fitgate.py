"""Records of kind "fit-gate" (one per step of `edgevit export --fit-gate`, edgevit/fitgate.py) -> one section per
search: a table of its steps and an SVG curve of file size (x) against agreement on the calibration split (y).

The chart marks the gate's minimum agreement as a dashed line (when the gate has one) and rings the chosen step; the
text under it states the chosen step's confirmation on the test split. Every number is a record's value as measured
in the search; nothing is recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from edgevit.report.rows import DASH, fmt_mb, fmt_ms, fmt_pct, fmt_pct_interval
from edgevit.report.svg import Scale, circle, color_of, line, padded_range, polyline, svg, text, use_log, x_axis, y_axis

KIND = "fit-gate"
WIDTH, HEIGHT = 820, 384
LEFT, RIGHT, TOP, BOTTOM = 80, 200, 46, 320
MIN_SPAN_POINTS = 2.0  # the agreement axis spans at least this many percentage points
PASS_COLOR, NOT_PASS_COLOR = "#16a34a", "#9ca3af"
COLUMNS = ("Step", "Layers in float", "Size (MB)", "Agreement [95% CI]", "Verdict", "p50 (ms)")


@dataclass(frozen=True)
class SearchStep:
    step: int
    float_layers: tuple[str, ...]
    file_size: int
    agreement: float
    agreement_ci: tuple[float, float] | None
    count: int
    verdict: str
    p50_ms: float
    chosen: bool


@dataclass(frozen=True)
class Search:
    search: str
    name: str
    format: str
    quantization: str
    machine_id: str
    calibration_split: str
    test_split: str
    gate: dict
    steps: tuple[SearchStep, ...]
    test: dict | None  # the chosen step's parity on the test split; None when no step passed
    timed: str  # what the latency was (the records' notes)

    @property
    def chosen(self) -> SearchStep | None:
        return next((s for s in self.steps if s.chosen), None)


def _interval(values) -> tuple[float, float] | None:
    return (values[0], values[1]) if values and None not in values else None


def fit_searches(records: list[dict]) -> list[Search]:
    """The searches in `records`, in the order first seen, each with its steps in step order."""
    grouped: dict[str, list[dict]] = {}
    for r in records:
        if r["kind"] == KIND:
            grouped.setdefault(r["fit_gate"]["search"], []).append(r)
    searches = []
    for key, mine in grouped.items():
        mine.sort(key=lambda r: r["fit_gate"]["step"])
        first, fit = mine[0], mine[0]["fit_gate"]
        chosen = next((r["fit_gate"] for r in mine if r["fit_gate"]["chosen"]), None)
        steps = tuple(SearchStep(
            step=r["fit_gate"]["step"], float_layers=tuple(r["fit_gate"]["float_layers"]), file_size=r["artifact"]["file_size"],
            agreement=r["parity"]["agreement"], agreement_ci=_interval(r["parity"].get("agreement_ci")), count=r["parity"]["count"],
            verdict=r["parity"].get("verdict") or ("pass" if r["parity"]["passed"] else "fail"), p50_ms=r["latency"]["p50_ms"],
            chosen=r["fit_gate"]["chosen"]) for r in mine)
        searches.append(Search(key, first["artifact"]["name"], first["artifact"]["format"], first["artifact"]["quantization"],
                               first["machine"]["id"], fit["calibration_split"], fit["test_split"], fit["gate"], steps,
                               None if chosen is None else chosen["test"], first.get("notes") or ""))
    return searches


def _gate_text(search: Search) -> str:
    return search.gate.get("meaning") or ", ".join(f"{k} {v}" for k, v in search.gate.items() if k != "source")


def outcome(search: Search) -> str:
    """One sentence: which step was chosen and how it did on the test split, or that none passed."""
    chosen = search.chosen
    if chosen is None:
        best = max(search.steps, key=lambda s: (s.agreement, -s.file_size))
        return (f"No step passed the gate on the {search.calibration_split} split; the best agreement reached was "
                f"{fmt_pct_interval(best.agreement, best.agreement_ci)} at {fmt_mb(best.file_size)} MB (step {best.step}).")
    layers = len(chosen.float_layers)
    said = (f"Chosen: step {chosen.step} ({layers} layer{'s' if layers != 1 else ''} in float"
            + (f": {', '.join(chosen.float_layers)}" if layers else "") + f"), {fmt_mb(chosen.file_size)} MB, "
            f"{search.calibration_split} agreement {fmt_pct_interval(chosen.agreement, chosen.agreement_ci)} (n={chosen.count}).")
    test = search.test
    if test is None:
        return said + " Not confirmed on the test split (no test record)."
    return (said + f" Confirmed on the {search.test_split} split: agreement "
            f"{fmt_pct_interval(test['agreement'], _interval(test.get('agreement_ci')))} (n={test['count']}), "
            f"verdict {test.get('verdict') or ('pass' if test['passed'] else 'fail')}.")


def _cells(step: SearchStep) -> list[str]:
    layers = ", ".join(step.float_layers) if step.float_layers else "none"
    return [str(step.step) + (" (chosen)" if step.chosen else ""), layers, fmt_mb(step.file_size),
            fmt_pct_interval(step.agreement, step.agreement_ci), step.verdict, fmt_ms(step.p50_ms)]


def _title(search: Search) -> str:
    return f"{search.name} ({search.format} {search.quantization}) on {search.machine_id}"


def _how(search: Search) -> str:
    return (f"Each step: the artifact with the named layers kept in float, its file size, its top-1 agreement with the SavedModel "
            f"on the {search.calibration_split} split [exact 95% interval], judged by the search's gate: {_gate_text(search)}. "
            f"{search.timed}.")


def markdown_section(searches: list[Search]) -> list[str]:
    if not searches:
        return []
    lines = ["## Mixed precision to the gate (`edgevit export --fit-gate`)", ""]
    for search in searches:
        lines += [f"### {_title(search)}", "", _how(search), ""]
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "|".join("---" for _ in COLUMNS) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(s)) + " |" for s in search.steps]
        lines += ["", outcome(search), ""]
    return lines


def html_section(searches: list[Search]) -> str:
    if not searches:
        return ""
    out = ["<h2>Mixed precision to the gate (edgevit export --fit-gate)</h2>"]
    for search in searches:
        head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
        body = "".join(f'<tr data-step="{s.step}" data-file-size="{s.file_size}" data-agreement="{s.agreement!r}">'
                       + "".join(f"<td>{escape(c)}</td>" for c in _cells(s)) + "</tr>" for s in search.steps)
        out += [f"<h3>{escape(_title(search))}</h3>", f"<p class=how>{escape(_how(search))}</p>",
                f'<div class="scroll"><table class="fit-gate"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>',
                f"<p class=meta>{escape(outcome(search))}</p>",
                f"<div class=charts><figure>{curve_chart(search)}</figure></div>"]
    return "\n".join(out)


def _legend(x: float, y: float) -> list[str]:
    return [circle(x + 5, y, 5, fill=PASS_COLOR, stroke="#111827"), text(x + 16, y + 4, "passes the gate"),
            circle(x + 5, y + 18, 5, fill=NOT_PASS_COLOR, stroke="#111827"), text(x + 16, y + 22, "does not"),
            circle(x + 5, y + 36, 9, fill="none", opacity=0, stroke="#111827"), text(x + 16, y + 40, "chosen step")]


def curve_chart(search: Search) -> str:
    """File size (x) against calibration agreement (y), one point per step joined in step order; the gate's minimum
    agreement dashed; the chosen step ringed and labelled."""
    title = f"Size vs {search.calibration_split} agreement — {search.name}"
    # The curve runs by size: the search builds its steps out of size order (doubling, then bisecting).
    steps = sorted(search.steps, key=lambda s: (s.file_size, s.step))
    sizes = [s.file_size / 1e6 for s in steps]
    log_x = use_log(sizes, threshold=8)
    x = Scale(*padded_range(sizes, log=log_x), LEFT, WIDTH - RIGHT, log=log_x)
    floor = search.gate.get("min_agreement")
    ys = [100 * v for s in steps for v in (s.agreement, *(s.agreement_ci or ()))] + ([100 * floor] if floor is not None else [])
    low, high = padded_range(ys, log=False)
    if high - low < MIN_SPAN_POINTS:
        mid = (high + low) / 2
        low, high = mid - MIN_SPAN_POINTS / 2, mid + MIN_SPAN_POINTS / 2
    y = Scale(max(0.0, low), min(100.0, high), BOTTOM, TOP)
    body = [text(LEFT, 18, title, weight="600", size=14),
            text(LEFT, 36, f"{search.format} {search.quantization}: a step keeps the most sensitive layers in float", fill="#4b5563")]
    body += x_axis(x, BOTTOM, TOP, "file size, MB")
    body += y_axis(y, LEFT, WIDTH - RIGHT, f"{search.calibration_split} agreement, % (bar: 95% interval)")
    if floor is not None:
        body.append(line(LEFT, y(100 * floor), WIDTH - RIGHT, y(100 * floor), stroke="#dc2626", width=1.5, dash="6 4"))
        body.append(text(WIDTH - RIGHT + 6, y(100 * floor) + 4, f"gate: {fmt_pct(floor)} agreement", fill="#dc2626"))
    else:  # e.g. a max-abs-error gate: nothing to draw on this axis, so say what it was
        body.append(text(10, HEIGHT - 6, f"gate: {_gate_text(search)}", fill="#dc2626"))
    points = [(x(s.file_size / 1e6), y(100 * s.agreement)) for s in steps]
    if len(points) > 1:
        body.append(polyline(points, stroke=color_of(search.format), width=2))
    for step, (px, py) in zip(steps, points):
        if step.agreement_ci:
            body.append(line(px, y(100 * step.agreement_ci[0]), px, y(100 * step.agreement_ci[1]), stroke="#111827", width=1.2))
        tip = (f"step {step.step}: {len(step.float_layers)} layer(s) in float, {fmt_mb(step.file_size)} MB, agreement "
               f"{fmt_pct_interval(step.agreement, step.agreement_ci)}, {step.verdict}, p50 {fmt_ms(step.p50_ms)} ms")
        body.append(circle(px, py, 5, fill=PASS_COLOR if step.verdict == "pass" else NOT_PASS_COLOR, stroke="#111827", tooltip=tip))
        body.append(text(px, py - 10, str(step.step), anchor="middle", fill="#4b5563"))
        if step.chosen:
            body.append(circle(px, py, 11, fill="none", opacity=0, stroke="#111827"))
            test = search.test
            said = DASH if test is None else fmt_pct(test["agreement"])
            right_half = px > (LEFT + WIDTH - RIGHT) / 2  # keep the label inside the chart
            body.append(text(px - 14 if right_half else px + 14, py + 24, f"chosen: step {step.step}, {search.test_split} agreement {said}",
                             anchor="end" if right_half else "start", weight="600"))
    body += _legend(WIDTH - RIGHT + 6, TOP + 10)
    return svg(WIDTH, HEIGHT, title, body,
               description="Each fit-gate step as a point: x is the artifact's file size, y its agreement with the SavedModel "
                           "on the calibration split; the dashed line is the gate's minimum agreement; the ringed point is the chosen step.")
