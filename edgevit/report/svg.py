"""Just enough SVG to draw the report's charts without a plotting dependency: scales, ticks, shapes, text.

Every chart is a standalone <svg> string with a <title> and a viewBox, so it scales with the page and
reads the same offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from edgevit.formats import Format

FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\""
FORMAT_COLORS = {Format.SAVEDMODEL: "#6b7280", Format.TFLITE: "#d97706", Format.ONNX: "#2563eb", Format.COREML: "#16a34a"}
OTHER_COLOR = "#9333ea"  # formats without a color of their own
CHAR_WIDTH = 6.6  # average px per character at 12 px: for layout, not exact


def color_of(fmt: str) -> str:
    return FORMAT_COLORS.get(fmt, OTHER_COLOR)


def text_width(text: str, size: float = 12) -> float:
    return len(text) * CHAR_WIDTH * size / 12


@dataclass(frozen=True)
class Scale:
    """Maps data values in [lo, hi] onto pixels [start, end]; log10 when `log`."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        lo, hi, v = self.lo, self.hi, value
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(max(value, self.lo))
        t = 0.5 if hi == lo else (v - lo) / (hi - lo)
        return self.start + t * (self.end - self.start)

    def ticks(self) -> list[float]:
        return log_ticks(self.lo, self.hi) if self.log else linear_ticks(self.lo, self.hi)


def linear_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks per decade inside [lo, hi] (only powers of ten when the range spans > 3 decades)."""
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    mantissas = (1,) if math.log10(hi / lo) > 3 else (1, 2, 5)
    ticks = [m * 10.0**d for d in decades for m in mantissas if lo * (1 - 1e-9) <= m * 10.0**d <= hi * (1 + 1e-9)]
    return ticks or [lo, hi]


def padded_range(values: list[float], *, log: bool, zero: bool = False) -> tuple[float, float]:
    """A range around `values` with room at both ends (from 0 for linear bars when `zero`)."""
    lo, hi = min(values), max(values)
    if log:
        return lo / 1.3, hi * 1.3
    if zero:
        return 0.0, hi * 1.08 if hi > 0 else 1.0
    span = (hi - lo) or abs(hi) or 1.0
    return lo - 0.08 * span, hi + 0.08 * span


def use_log(values: list[float], threshold: float = 20.0) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and bool(positive) and max(positive) / min(positive) > threshold


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:g}"
    return f"{value:.3g}"


def svg(width: float, height: float, title: str, body: list[str], *, description: str = "") -> str:
    desc = f"<desc>{escape(description)}</desc>" if description else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" role="img" {FONT} font-size="12"><title>{escape(title)}</title>{desc}'
            + "".join(body) + "</svg>")


def text(x: float, y: float, content: str, *, anchor: str = "start", size: float = 12, weight: str = "normal",
         fill: str = "#111827", rotate: float | None = None) -> str:
    transform = f' transform="rotate({rotate:.0f} {x:.1f} {y:.1f})"' if rotate is not None else ""
    bold = f' font-weight="{weight}"' if weight != "normal" else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size:g}" fill="{fill}"{bold}{transform}>'
            f"{escape(content)}</text>")


def line(x1: float, y1: float, x2: float, y2: float, *, stroke: str = "#9ca3af", width: float = 1, dash: str | None = None) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" stroke-width="{width:g}"{dashed}/>'


def rect(x: float, y: float, w: float, h: float, *, fill: str, opacity: float = 1.0, tooltip: str | None = None) -> str:
    tip = f"<title>{escape(tooltip)}</title>" if tooltip else ""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{fill}" '
            f'fill-opacity="{opacity:g}">{tip}</rect>')


def circle(x: float, y: float, r: float, *, fill: str, opacity: float = 1.0, stroke: str | None = None,
           tooltip: str | None = None) -> str:
    outline = f' stroke="{stroke}" stroke-width="1"' if stroke else ""
    tip = f"<title>{escape(tooltip)}</title>" if tooltip else ""
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" fill-opacity="{opacity:g}"{outline}>{tip}</circle>'


def polyline(points: list[tuple[float, float]], *, stroke: str, width: float = 1, dash: str | None = None) -> str:
    """An open line through `points`, in order."""
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    d = " ".join(f"{'M' if k == 0 else 'L'}{x:.1f} {y:.1f}" for k, (x, y) in enumerate(points))
    return f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{width:g}"{dashed}/>'


def diamond(x: float, y: float, r: float = 5, fill: str = "#111827") -> str:
    return f'<path d="M{x:.1f} {y - r:.1f} L{x + r:.1f} {y:.1f} L{x:.1f} {y + r:.1f} L{x - r:.1f} {y:.1f} Z" fill="{fill}"/>'


def x_axis(scale: Scale, y: float, top: float, label: str) -> list[str]:
    """Grid lines from `top` to `y`, tick labels under `y`, the axis label centred below."""
    parts = []
    for tick in scale.ticks():
        x = scale(tick)
        parts.append(line(x, top, x, y, stroke="#e5e7eb"))
        parts.append(text(x, y + 16, tick_label(tick), anchor="middle", fill="#4b5563"))
    parts.append(line(scale.start, y, scale.end, y, stroke="#6b7280"))
    parts.append(text((scale.start + scale.end) / 2, y + 36, label + (" (log scale)" if scale.log else ""), anchor="middle"))
    return parts


def y_axis(scale: Scale, x: float, right: float, label: str) -> list[str]:
    parts = []
    for tick in scale.ticks():
        y = scale(tick)
        parts.append(line(x, y, right, y, stroke="#e5e7eb"))
        parts.append(text(x - 6, y + 4, tick_label(tick), anchor="end", fill="#4b5563"))
    parts.append(line(x, scale.start, x, scale.end, stroke="#6b7280"))
    mid = (scale.start + scale.end) / 2
    parts.append(text(x - 48, mid, label + (" (log scale)" if scale.log else ""), anchor="middle", rotate=-90))
    return parts


def legend(x: float, y: float, entries: list[tuple[str, str]]) -> list[str]:
    """Colour swatches with names in one row starting at (x, y)."""
    parts = []
    for name, color in entries:
        parts.append(rect(x, y - 9, 10, 10, fill=color))
        parts.append(text(x + 14, y, name))
        x += 24 + text_width(name)
    return parts
