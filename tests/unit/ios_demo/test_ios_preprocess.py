"""The iOS app's camera preprocessing is Pillow's resize to the byte (Swift cannot run here).

`PillowResize` in ios_demo/EdgeViTDemo/Preprocessor.swift writes out Pillow's resampling because no Apple
API reproduces it. `port` below is that Swift, line by line, in Python: the tests show that it gives the
bytes `edgevit.data.preprocess` gives (Pillow 13) for every filter the manifest can name, up to one thing:
the port resizes rows then columns, as Pillow's Resample.c read upstream does, while Pillow 13 sometimes
runs the columns first; both orders round to uint8 in between, so such frames differ by at most 1 grey
level in 255 for bilinear, 3 for bicubic (measured below, stated in ios_demo/README.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgevit.config import Preprocessing
from edgevit.data.preprocess import resize_rgb
from helpers.ios import IOS_DEMO

PRECISION_BITS = 32 - 8 - 2


def _weight(name: str, x: float) -> float:
    t = abs(x)
    if name == "bicubic":
        a = -0.5
        if t < 1:
            return ((a + 2) * t - (a + 3)) * t * t + 1
        if t < 2:
            return (((t - 5) * t + 8) * t - 4) * a
        return 0.0
    return 1 - t if t < 1 else 0.0


def _coefficients(in_size: int, out_size: int, name: str):
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = (2.0 if name == "bicubic" else 1.0) * filter_scale
    unit = float(1 << PRECISION_BITS)
    out = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        ss = 1.0 / filter_scale
        weights = [_weight(name, (x + xmin - center + 0.5) * ss) for x in range(xmax)]
        total = sum(weights)
        if total != 0:
            weights = [w / total for w in weights]
        out.append((xmin, [int(-0.5 + w * unit) if w < 0 else int(0.5 + w * unit) for w in weights]))
    return out


def _clip8(total: np.ndarray) -> np.ndarray:
    """PillowResize.clip8 over an array: >= 256 << 22 -> 255, <= 0 -> 0, else the sum >> 22."""
    return np.where(total >= (1 << PRECISION_BITS) << 8, 255, np.where(total <= 0, 0, total >> PRECISION_BITS)).astype(np.uint8)


def _nearest(src: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = src.shape[:2]
    step_x, step_y = w / width, h / height
    columns, xo = [], step_x * 0.5
    for _ in range(width):
        columns.append(min(int(xo), w - 1))
        xo += step_x
    out = np.zeros((height, width, 3), np.uint8)
    yo = step_y * 0.5
    for y in range(height):
        out[y] = src[min(int(yo), h - 1), columns]
        yo += step_y
    return out


def port(src: np.ndarray, width: int, height: int, name: str) -> np.ndarray:
    """PillowResize.resize, in Python (vectorised over x and channels where the Swift loops; same integers)."""
    if name == "nearest":
        return _nearest(src, width, height)
    h, w = src.shape[:2]
    columns = _coefficients(w, width, name)
    rows = _coefficients(h, height, name)
    first, last = rows[0][0], rows[-1][0] + len(rows[-1][1])
    rows = [(start - first, weights) for start, weights in rows]
    half = 1 << (PRECISION_BITS - 1)
    block = src[first:last].astype(np.int64)
    if width != w:
        temporary = np.zeros((last - first, width, 3), np.uint8)
        for x, (start, weights) in enumerate(columns):
            total = half + sum(block[:, start + i] * wt for i, wt in enumerate(weights))
            temporary[:, x] = _clip8(total)
    else:
        temporary = block.astype(np.uint8)
    if height == h:
        return temporary
    out = np.zeros((height, width, 3), np.uint8)
    tmp = temporary.astype(np.int64)
    for y, (start, weights) in enumerate(rows):
        total = half + sum(tmp[start + i] * wt for i, wt in enumerate(weights))
        out[y] = _clip8(total)
    return out


def _frame(width: int, height: int, seed: int) -> np.ndarray:
    """A camera-like frame: smooth gradients, a hard-edged block and noise, with pure black and white edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=-1).astype(np.int64)
    frame[height // 3 : height // 2, width // 4 : width // 2] = [250, 10, 30]
    frame += rng.integers(-20, 21, size=frame.shape)
    frame[:, 0] = 0
    frame[:, -1] = 255
    return np.clip(frame, 0, 255).astype(np.uint8)


# Largest difference in grey levels (of 255) where Pillow 13 ran the column pass first, measured on these
# frames: bicubic's negative lobes carry a rounding difference further at hard edges.
MAX_LEVELS = {"bilinear": 1, "bicubic": 3, "nearest": 0}
CASES = [(720, 1280, 64, 64), (720, 1280, 224, 224), (97, 61, 32, 32), (20, 30, 32, 40)]


@pytest.mark.parametrize("name", ["bilinear", "bicubic", "nearest"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}->{c[2]}x{c[3]}")
def test_the_swift_resize_is_pillows_up_to_the_order_of_its_passes(name, case):
    """Exact for a resize along one axis and for nearest; for a resize along both, the port equals Pillow
    run rows-first or columns-first (Pillow 13 picks one of the two itself), so it differs from
    edgevit.data.preprocess by at most MAX_LEVELS grey levels where Pillow picked columns-first."""
    in_w, in_h, out_w, out_h = case
    src = _frame(in_w, in_h, seed=in_w)
    spec = Preprocessing(height=out_h, width=out_w, resize=name, color="RGB", layout="NHWC", mean=(0, 0, 0), std=(1, 1, 1))
    expected = resize_rgb(Image.fromarray(src, mode="RGB"), spec).astype(int)
    got = port(src, out_w, out_h, name).astype(int)
    assert got.shape == expected.shape == (out_h, out_w, 3)
    assert np.abs(got - expected).max() <= MAX_LEVELS[name]
    columns_first = port(port(src, in_w, out_h, name), out_w, out_h, name).astype(int)
    assert np.array_equal(got, expected) or np.array_equal(columns_first, expected)
    if name == "nearest":
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("name", ["bilinear", "bicubic"])
def test_each_pass_alone_is_exact(name):
    src = _frame(720, 1280, seed=3)
    for out_w, out_h in ((224, 1280), (720, 224), (64, 1280), (720, 64)):
        spec = Preprocessing(height=out_h, width=out_w, resize=name, color="RGB", layout="NHWC", mean=(0, 0, 0), std=(1, 1, 1))
        assert np.array_equal(port(src, out_w, out_h, name), resize_rgb(Image.fromarray(src, mode="RGB"), spec))


def test_the_difference_on_a_camera_frame_is_stated():
    """What ios_demo/README.md states: a 720x1280 frame to 224x224 bilinear (normalised x / 127.5 - 1)."""
    src = _frame(720, 1280, seed=720)
    spec = Preprocessing(height=224, width=224, resize="bilinear", color="RGB", layout="NHWC", mean=(127.5,) * 3, std=(127.5,) * 3)
    expected = resize_rgb(Image.fromarray(src, mode="RGB"), spec).astype(int)
    differ = port(src, 224, 224, "bilinear").astype(int) != expected
    assert 0 < differ.mean() < 0.2  # 13% of the values, each by one level: 1 / 127.5 = 0.0078 in model input units


def test_the_port_mirrors_the_swift_constants():
    """The numbers the port relies on are the ones the Swift file spells."""
    swift = (IOS_DEMO / "EdgeViTDemo" / "Preprocessor.swift").read_text()
    assert "static let precisionBits = 32 - 8 - 2" in swift
    assert "let a = -0.5" in swift and "var support: Double { self == .bicubic ? 2 : 1 }" in swift
    assert "let xmin = max(Int(center - support + 0.5), 0)" in swift
    assert "let xmax = min(Int(center + support + 0.5), inSize) - xmin" in swift
    assert "$0 < 0 ? Int(-0.5 + $0 * unit) : Int(0.5 + $0 * unit)" in swift
    assert "case bilinear, bicubic, nearest" in swift


def test_a_lanczos_resize_would_not_match():
    """Why the app does not use Core Image: another kernel gives other pixels (Pillow's own Lanczos shown)."""
    src = _frame(720, 1280, seed=1)
    spec = Preprocessing(height=64, width=64, resize="bilinear", color="RGB", layout="NHWC", mean=(0, 0, 0), std=(1, 1, 1))
    bilinear = resize_rgb(Image.fromarray(src, mode="RGB"), spec).astype(int)
    lanczos = np.asarray(Image.fromarray(src, mode="RGB").resize((64, 64), Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(bilinear - lanczos).max() > 5
