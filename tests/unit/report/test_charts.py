"""The accuracy chart shows each accuracy's interval, and its axis is never zoomed until a few images fill it."""

from __future__ import annotations

import re
from dataclasses import replace

from edgevit.report.charts import MIN_ACCURACY_SPAN, tradeoff_chart
from edgevit.report.rows import Group, Row

GROUP = Group("m", "cpu", 2)


def _row(name: str, accuracy: float, interval, p50: float) -> Row:
    return Row(group=GROUP, name=name, format="tflite", quantization="dynamic", runtime="litert", runtime_version="2.3.0",
               emulated=False, status="ok", reason=None, size_bytes=1_000_000, accuracy=accuracy, agreement=1.0,
               parity_source="edgevit verify (test split, litert cpu)", p50_ms=p50, p90_ms=p50, p99_ms=None, min_ms=p50,
               runs=20, warmup=3, speedup=None, achieved_gflops=None, fraction_of_peak=None, peak_dtype=None,
               peak_rss_bytes=None, load_ms=None, first_inference_ms=None, batch=None, batch_images_per_second=None,
               accuracy_ci=interval, parity_count=300)


def _axis_ticks(svg: str) -> list[float]:
    """The y-axis tick labels (numbers right-aligned left of the plot)."""
    return [float(v) for v in re.findall(r'text-anchor="end"[^>]*>([0-9.]+)</text>', svg)]


def test_interval_bars_are_drawn_and_the_axis_spans_them():
    # Two artifacts one image apart on 300 images: the old axis zoomed until 0.33 points filled it.
    rows = [_row("a", 0.910, (0.873, 0.939), 2.0), _row("b", 0.9067, (0.869, 0.936), 3.0)]
    svg = tradeoff_chart(rows, "t")
    assert svg.count('stroke="#111827"') >= 6  # per row: the bar and its two caps
    ticks = _axis_ticks(svg)
    assert ticks and max(ticks) - min(ticks) >= 0.8 * MIN_ACCURACY_SPAN
    assert min(ticks) <= 87.0 and max(ticks) >= 93.9 - 1.0  # the whole intervals fit on the axis


def test_a_row_without_an_interval_plots_without_a_bar():
    with_bar = tradeoff_chart([_row("a", 0.91, (0.873, 0.939), 2.0)], "t")
    without = tradeoff_chart([replace(_row("a", 0.91, (0.873, 0.939), 2.0), accuracy_ci=None)], "t")
    assert with_bar.count('stroke="#111827"') - without.count('stroke="#111827"') == 3
