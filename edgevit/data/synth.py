"""Procedurally drawn, deterministic "synthetic birds" image data set.

Stands in for the Kaggle BIRDS-525 data set when no download is possible. Each
species is a fixed :class:`Genome` (colours, beak, tail, crest, markings, ...)
derived from ``(seed, class index)``; each image draws that species in a random
pose on a random background. Every image is rendered from its own
``numpy.random.Generator`` seeded by ``(seed, split, class, index)``, so any
single image can be reproduced on its own and output never depends on the
process or on rendering order.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_CLASSES",
    "SPLITS",
    "Genome",
    "SynthSummary",
    "image_rng",
    "render_bird",
    "species_genomes",
    "write_synthetic_birds",
]

MAX_CLASSES = 1000
SPLITS = ("train", "valid", "test")

Colour = tuple[int, int, int]

# name, RGB, adjectives used in species names
_PALETTE: tuple[tuple[str, Colour, tuple[str, ...]], ...] = (
    ("RED", (205, 30, 35), ("CRIMSON", "SCARLET", "RUBY")),
    ("ORANGE", (245, 135, 20), ("AMBER", "TANGERINE", "FLAME")),
    ("YELLOW", (250, 220, 40), ("GOLDEN", "LEMON", "CITRINE")),
    ("GREEN", (40, 150, 55), ("EMERALD", "JADE", "VERDANT")),
    ("TEAL", (20, 165, 160), ("TEAL", "TURQUOISE", "CYAN")),
    ("AZURE", (110, 180, 245), ("AZURE", "CERULEAN", "SKY")),
    ("BLUE", (30, 55, 185), ("COBALT", "SAPPHIRE", "INDIGO")),
    ("PURPLE", (125, 45, 165), ("VIOLET", "PURPLE", "PLUM")),
    ("PINK", (245, 135, 185), ("ROSE", "PINK", "ROSY")),
    ("BROWN", (125, 78, 40), ("CHESTNUT", "RUSSET", "UMBER")),
    ("BLACK", (25, 25, 30), ("EBONY", "SOOTY", "RAVEN")),
    ("WHITE", (242, 242, 236), ("SNOWY", "IVORY", "PEARL")),
    ("GREY", (130, 132, 138), ("ASHY", "SLATE", "DUSKY")),
)
_COLOUR_INDEX = {rgb: i for i, (_, rgb, _) in enumerate(_PALETTE)}

_BEAK_COLOURS: tuple[Colour, ...] = (
    (30, 30, 30), (235, 170, 30), (225, 95, 25), (200, 40, 40), (230, 215, 170), (120, 110, 100),
)

BEAKS = ("cone", "thin", "hooked")
TAILS = ("short", "long", "forked", "fan")
CRESTS = ("none", "pointed", "tuft")
MARKINGS = ("none", "bars", "spots")
SHAPES = ("round", "slender")

_NOUNS = {
    "cone": ("FINCH", "BUNTING", "SPARROW", "GROSBEAK", "CANARY", "SISKIN", "SEEDEATER", "WAXBILL"),
    "thin": ("WARBLER", "SUNBIRD", "HONEYEATER", "CREEPER", "WREN", "THRASHER", "SPIDERHUNTER",
             "HUMMINGBIRD"),
    "hooked": ("SHRIKE", "KESTREL", "FALCON", "KITE", "HAWK", "PARAKEET", "LORIKEET", "CARACARA"),
}
_FEATURE_WORDS = {
    ("crest", "pointed"): ("CRESTED", "PLUMED"),
    ("crest", "tuft"): ("TUFTED", "TASSELED"),
    ("tail", "short"): ("SHORT-TAILED", "STUB-TAILED"),
    ("tail", "long"): ("LONG-TAILED", "STREAMER-TAILED"),
    ("tail", "forked"): ("FORK-TAILED", "SWALLOW-TAILED"),
    ("tail", "fan"): ("FAN-TAILED", "BROAD-TAILED"),
    ("beak", "cone"): ("THICK-BILLED", "STOUT-BILLED"),
    ("beak", "thin"): ("LONG-BILLED", "SLENDER-BILLED"),
    ("beak", "hooked"): ("HOOK-BILLED", "SHARP-BILLED"),
    ("markings", "bars"): ("BAR-WINGED", "BARRED"),
    ("markings", "spots"): ("SPOTTED", "SPECKLED"),
    ("eye_ring", True): ("SPECTACLED", "RINGED"),
    ("legs", "long"): ("LONG-LEGGED", "STILTED"),
}

# Genomes must differ in at least this many of the visual key attributes, so no
# two species of a set are near-duplicates that only a pixel-perfect model could split.
_MIN_KEY_DISTANCE = 2
_MAX_ATTEMPTS = 2000


@dataclass(frozen=True)
class Genome:
    """Fixed description of one synthetic species (all colours are RGB tuples)."""

    name: str
    body: Colour
    wing: Colour
    belly: Colour
    head: Colour
    beak: str  # one of BEAKS
    beak_colour: Colour
    tail: str  # one of TAILS
    crest: str  # one of CRESTS
    markings: str  # one of MARKINGS
    eye_ring: bool
    body_shape: str  # one of SHAPES
    leg_length: float  # in body units, 0.12 .. 0.40

    def colour_key(self) -> tuple[Colour, Colour, Colour, Colour]:
        """The (body, wing, belly, head) colour combination, unique within a set."""
        return (self.body, self.wing, self.belly, self.head)

    def visual_key(self) -> tuple:
        """The attributes that make species visually distinct."""
        return (self.body, self.wing, self.belly, self.head, self.beak, self.tail, self.crest,
                self.markings)


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`write_synthetic_birds` wrote."""

    root: Path
    class_names: list[str]  # sorted, i.e. the order a folder-based loader sees
    counts: dict[str, int]  # split -> number of images


# ---------------------------------------------------------------------------
# species


def _check_seed(seed: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}; pass e.g. seed=0")


def _random_genome(rng: np.random.Generator) -> dict:
    n = len(_PALETTE)
    while True:
        cols = [int(i) for i in rng.integers(0, n, size=4)]
        # a one-colour bird has no internal structure to learn from; demand >= 2 colours
        if len(set(cols)) >= 2:
            break
    body, wing, belly, head = (_PALETTE[i][1] for i in cols)
    return dict(
        body=body, wing=wing, belly=belly, head=head,
        beak=BEAKS[int(rng.integers(len(BEAKS)))],
        beak_colour=_BEAK_COLOURS[int(rng.integers(len(_BEAK_COLOURS)))],
        tail=TAILS[int(rng.integers(len(TAILS)))],
        crest=CRESTS[int(rng.choice(3, p=[0.45, 0.3, 0.25]))],
        markings=MARKINGS[int(rng.choice(3, p=[0.4, 0.3, 0.3]))],
        eye_ring=bool(rng.random() < 0.4),
        body_shape=SHAPES[int(rng.integers(2))],
        leg_length=round(float(rng.uniform(0.12, 0.40)), 3),
    )


def _name_candidates(g: dict, rng: np.random.Generator) -> list[str]:
    body_i = _COLOUR_INDEX[g["body"]]
    adjectives = list(_PALETTE[body_i][2])
    features: list[str] = []
    for key in (("crest", g["crest"]), ("tail", g["tail"]), ("beak", g["beak"]),
                ("markings", g["markings"]), ("eye_ring", g["eye_ring"]),
                ("legs", "long" if g["leg_length"] >= 0.3 else "short")):
        features.extend(_FEATURE_WORDS.get(key, ()))
    for part, suffix in (("head", "HEADED"), ("wing", "WINGED"), ("belly", "BELLIED")):
        if g[part] != g["body"]:
            features.append(f"{_PALETTE[_COLOUR_INDEX[g[part]]][0]}-{suffix}")
    nouns = _NOUNS[g["beak"]]
    names = [f"{a} {f} {n}" for a in adjectives for f in features for n in nouns]
    order = rng.permutation(len(names))
    return [names[i] for i in order]


def _key_distance(a: tuple, b: tuple) -> int:
    return sum(x != y for x, y in zip(a, b))


def species_genomes(num_classes: int, *, seed: int = 0) -> list[Genome]:
    """Return ``num_classes`` distinct species for ``seed``.

    Genome ``i`` depends only on ``(seed, i)`` and the genomes before it, so a
    smaller set is always a prefix of a larger one with the same seed.
    """
    _check_seed(seed)
    if not isinstance(num_classes, (int, np.integer)) or not 2 <= num_classes <= MAX_CLASSES:
        raise ValueError(
            f"num_classes must be an integer between 2 and {MAX_CLASSES}, got {num_classes!r}; "
            "pick a number of species in that range")
    genomes: list[Genome] = []
    colour_keys: set[tuple] = set()
    names: set[str] = set()
    for cls in range(int(num_classes)):
        for attempt in range(_MAX_ATTEMPTS):
            rng = np.random.default_rng([int(seed), 1, cls, attempt, 0])
            g = _random_genome(rng)
            ckey = (g["body"], g["wing"], g["belly"], g["head"])
            if ckey in colour_keys:
                continue
            vkey = ckey + (g["beak"], g["tail"], g["crest"], g["markings"])
            if any(_key_distance(vkey, o.visual_key()) < _MIN_KEY_DISTANCE for o in genomes):
                continue
            name = next((n for n in _name_candidates(g, rng) if n not in names), None)
            if name is None:
                continue
            genomes.append(Genome(name=name, **g))
            colour_keys.add(ckey)
            names.add(name)
            break
        else:  # pragma: no cover - MAX_CLASSES is far below the capacity
            raise RuntimeError(f"could not find a distinct genome for class {cls}")
    return genomes


def image_rng(seed: int, split: str, class_index: int, index: int) -> np.random.Generator:
    """The generator that renders image ``index`` of ``class_index`` in ``split``."""
    _check_seed(seed)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return np.random.default_rng([int(seed), 2, SPLITS.index(split), int(class_index), int(index)])


# ---------------------------------------------------------------------------
# drawing

# python's math (libm) rather than numpy's SIMD trig, so polygon corners do not
# depend on which vector instructions numpy picked at run time
_CIRCLE = np.array([[math.cos(2 * math.pi * k / 28), math.sin(2 * math.pi * k / 28)]
                    for k in range(28)])


def _rot(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0,
             circle: np.ndarray = _CIRCLE) -> np.ndarray:
    pts = circle * (rx, ry)
    if angle:
        pts = pts @ _rot(angle).T
    return pts + (cx, cy)


def _shade(c: Colour, f: float) -> Colour:
    return tuple(int(min(255, max(0, v * f))) for v in c)  # type: ignore[return-value]


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    mixed = (int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))
    return tuple(mixed)  # type: ignore[return-value]


def _luma(c: Colour) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _outline(c: Colour) -> Colour:
    # dark birds get a lighter rim, otherwise they melt into each other
    return _shade(c, 0.55) if _luma(c) > 60 else _mix(c, (255, 255, 255), 0.25)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    h = (h % 1.0) * 6.0
    i = int(h) % 6
    f = h - int(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r, g, b = ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))[i]
    return np.array([r, g, b]) * 255.0


class _Pen:
    """Maps bird coordinates (body length ~ 1, facing +x, y down) to canvas pixels."""

    def __init__(self, draw: ImageDraw.ImageDraw, centre: np.ndarray, unit: float, angle: float,
                 flip: bool):
        self.draw = draw
        self.m = unit * _rot(angle) @ np.diag([-1.0 if flip else 1.0, 1.0])
        self.centre = centre
        self.unit = unit

    def map(self, pts: np.ndarray) -> np.ndarray:
        return np.asarray(pts, dtype=float) @ self.m.T + self.centre

    def poly(self, pts: np.ndarray, fill: Colour, outline: Colour | None = None) -> None:
        xy = self.map(pts).ravel().tolist()
        width = max(1, round(self.unit * 0.025)) if outline else 0
        self.draw.polygon(xy, fill=fill, outline=outline, width=width)

    def line(self, pts: np.ndarray, fill: Colour, width: float) -> None:
        xy = self.map(pts).ravel().tolist()
        self.draw.line(xy, fill=fill, width=max(1, round(width * self.unit)), joint="curve")


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    hue = rng.random()
    sat = rng.uniform(0.1, 0.45)  # muted, so the saturated bird palette stays the main cue
    top = _hsv(hue, sat, rng.uniform(0.7, 1.0))
    bottom = _hsv(hue + rng.uniform(-0.12, 0.12), sat * rng.uniform(0.3, 1.0),
                  rng.uniform(0.45, 1.0))
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    sky = np.broadcast_to(top * (1 - t) + bottom * t, (size, size, 3))
    img = Image.fromarray(np.ascontiguousarray(sky).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 8))):
        # foliage is mostly green, sometimes autumn/odd hues so green is never a free cue
        h = rng.uniform(0.18, 0.45) if rng.random() < 0.7 else rng.random()
        col = _hsv(h, rng.uniform(0.2, 0.65), rng.uniform(0.25, 0.75))
        cx, cy = rng.uniform(-0.1, 1.1, size=2) * size
        rx, ry = rng.uniform(0.08, 0.35, size=2) * size
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=tuple(int(v) for v in col))
    return img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.02, 0.06)) * size))


def _draw_bird(pen: _Pen, g: Genome, rng: np.random.Generator, wings_up: bool) -> None:
    round_body = g.body_shape == "round"
    a, b = (0.40, 0.30) if round_body else (0.50, 0.21)
    tilt = -0.18 if round_body else -0.3  # front of the body points up
    body_rot = _rot(tilt)

    def body_frame(pts) -> np.ndarray:
        return np.asarray(pts, dtype=float) @ body_rot.T

    ol = _outline
    accent = g.wing if g.wing != g.head else g.belly

    # tail (drawn first so the body covers its root)
    x0, w = -a * 0.85, b * 0.4
    tails = {
        "short": [(x0, -w), (x0 - 0.22, -w * 0.55), (x0 - 0.24, w * 0.55), (x0, w)],
        "long": [(x0, -w * 0.8), (x0 - 0.62, -0.04), (x0 - 0.62, 0.05), (x0, w * 0.8)],
        "forked": [(x0, -w), (x0 - 0.52, -0.2), (x0 - 0.3, 0.0), (x0 - 0.52, 0.2), (x0, w)],
        "fan": [(x0, -w * 0.6), (x0 - 0.34, -0.32), (x0 - 0.43, -0.11), (x0 - 0.43, 0.11),
                (x0 - 0.34, 0.32), (x0, w * 0.6)],
    }
    tail = body_frame(tails[g.tail]) + (0, 0.04)
    pen.poly(tail, g.wing, ol(g.wing))

    # legs hang straight down from the belly, whatever the body tilt
    leg_col = _shade(g.beak_colour, 0.6) if _luma(g.beak_colour) > 80 else (60, 55, 50)
    hips = body_frame([(0.02, b * 0.85), (0.14, b * 0.8)])
    for hip in hips:
        foot = hip + (0.0, g.leg_length)
        pen.line(np.array([hip, foot]), leg_col, 0.035)
        pen.line(np.array([foot + (-0.04, 0), foot + (0.09, 0)]), leg_col, 0.03)

    # body and belly (lower arc of the body ellipse, closed by its chord)
    pen.poly(body_frame(_ellipse(0, 0, a, b)), g.body, ol(g.body))
    t = np.linspace(0.12, math.pi - 0.12, 16)
    belly = np.stack([np.cos(t) * a * 0.88, np.sin(t) * b * 0.82 + b * 0.1], 1)
    pen.poly(body_frame(belly), g.belly)

    mark_col = (250, 250, 245) if _luma(g.wing) < 150 else (30, 30, 30)
    if g.markings == "spots":
        for _ in range(int(rng.integers(5, 9))):
            sx, sy = rng.uniform(-0.7, 0.7) * a, rng.uniform(-0.6, 0.7) * b
            pen.poly(body_frame(_ellipse(sx, sy, 0.035, 0.035)), mark_col)

    # wing
    if wings_up:
        wing = np.array([(0.16, -0.1), (-0.22, -0.06), (-0.48, -0.72), (-0.22, -0.82),
                         (0.06, -0.55)])
        wing[:, 1] -= b * 0.35
        pen.poly(wing, g.wing, ol(g.wing))
        bars = [(wing[1] * (1 - s) + wing[2] * s, wing[0] * (1 - s) + wing[4] * s)
                for s in (0.45, 0.75)]
    else:
        cx, cy, rx, ry = -0.1, -b * 0.22, a * 0.72, b * 0.5
        pts = _ellipse(cx, cy, rx, ry)
        dx = pts[:, 0] - cx
        # stretch the rear half into a pointed wing tip
        pts[:, 0] += np.where(dx < 0, dx * 0.45 * (1 - np.abs(pts[:, 1] - cy) / ry), 0.0)
        pts = body_frame(pts)
        pen.poly(pts, g.wing, ol(g.wing))
        bars = []
        for fx in (-0.05, -0.45):
            h = ry * math.sqrt(max(0.0, 1 - fx * fx)) * 0.8
            bars.append(tuple(body_frame([(cx + fx * rx, cy - h), (cx + fx * rx - 0.05, cy + h)])))
    if g.markings == "bars":
        for p, q in bars:
            pen.line(np.array([p, q]), mark_col, 0.05)
    if g.markings == "spots" and wings_up:
        for _ in range(3):
            s = rng.uniform(0.2, 0.8)
            p = wing[1] * (1 - s) + wing[2] * s
            q = wing[0] * (1 - s) + wing[4] * s
            pen.poly(_ellipse(*(p + q) / 2, 0.035, 0.035), mark_col)

    # head sits on the upper front of the body
    r = 0.2 if round_body else 0.17
    hx, hy = body_frame([(a * 0.78, -b * 0.55)])[0] + (0.02, -r * 0.45)

    # crest behind/above the head
    if g.crest == "pointed":
        pen.poly([(hx - r * 0.2, hy - r * 0.7), (hx - r * 1.5, hy - r * 1.9),
                  (hx + r * 0.5, hy - r * 0.85)],
                 accent, ol(accent))
    elif g.crest == "tuft":
        for ang in (-2.0, -1.65, -1.3):
            base = np.array([hx, hy]) + (r * 0.2 * math.cos(ang), r * 0.85 * math.sin(ang))
            tip = base + (0.26 * math.cos(ang - 0.5), 0.26 * math.sin(ang - 0.5))
            pen.line(np.array([base, tip]), accent, 0.05)

    pen.poly(_ellipse(hx, hy, r, r * 0.95), g.head, ol(g.head))

    # beak
    bx = hx + r * 0.9
    if g.beak == "cone":
        beak = [(bx - 0.02, hy - 0.075), (bx + 0.17, hy + 0.02), (bx - 0.02, hy + 0.09)]
    elif g.beak == "thin":
        beak = [(bx - 0.02, hy - 0.03), (bx + 0.4, hy + 0.05), (bx + 0.4, hy + 0.07),
                (bx - 0.02, hy + 0.05)]
    else:
        beak = [(bx - 0.03, hy - 0.08), (bx + 0.12, hy - 0.06), (bx + 0.2, hy + 0.02),
                (bx + 0.16, hy + 0.11),
                (bx + 0.12, hy + 0.03), (bx - 0.03, hy + 0.07)]
    pen.poly(beak, g.beak_colour, ol(g.beak_colour))

    # eye
    ex, ey = hx + r * 0.35, hy - r * 0.2
    if g.eye_ring:
        ring = (250, 250, 250) if _luma(g.head) < 170 else (20, 20, 20)
        pen.poly(_ellipse(ex, ey, 0.07, 0.07), ring)
    pen.poly(_ellipse(ex, ey, 0.04, 0.04), (10, 10, 10))


def render_bird(genome: Genome, rng: np.random.Generator, *, image_size: int = 64) -> Image.Image:
    """Draw one RGB image of ``genome`` with pose, background and lighting from ``rng``."""
    if not isinstance(image_size, (int, np.integer)) or image_size < 16:
        raise ValueError(f"image_size must be an integer >= 16, got {image_size!r}")
    size = int(image_size) * 2  # drawn at 2x, then downsampled, for antialiasing
    img = _background(rng, size)
    draw = ImageDraw.Draw(img)

    angle = math.radians(rng.uniform(-25.0, 25.0))
    scale = rng.uniform(0.6, 1.05)
    flip = bool(rng.random() < 0.5)
    wings_up = bool(rng.random() < 0.35)
    unit = scale * size * 0.45
    centre = size * 0.5 + rng.uniform(-0.13, 0.13, size=2) * size * (1.25 - scale)
    pen = _Pen(draw, centre, unit, angle, flip)

    if rng.random() < 0.6:
        # branch through the feet, nearly level in the image
        foot_y = (0.21 if genome.body_shape == "slender" else 0.3) * 0.9 + genome.leg_length
        foot = pen.map(np.array([[0.08, foot_y + 0.02]]))[0]
        br_angle = rng.uniform(-0.25, 0.25)
        d = np.array([math.cos(br_angle), math.sin(br_angle)]) * size * 1.5
        hue = rng.uniform(0.05, 0.11)
        col = tuple(int(v) for v in _hsv(hue, rng.uniform(0.4, 0.7), rng.uniform(0.25, 0.5)))
        width = max(2, round(unit * rng.uniform(0.08, 0.14)))
        draw.line([*(foot - d), *(foot + d)], fill=col, width=width)

    _draw_bird(pen, genome, rng, wings_up)

    img = img.resize((size // 2, size // 2), Image.Resampling.BOX)

    # lighting and sensor noise, applied at the final resolution
    arr = np.asarray(img, dtype=np.float32)
    gain = rng.uniform(0.75, 1.25) * rng.uniform(0.94, 1.06, size=3)  # brightness + slight tint
    contrast = rng.uniform(0.7, 1.25)
    mean = arr.mean()
    arr = ((arr - mean) * contrast + mean) * gain.astype(np.float32)
    sigma = rng.uniform(0.0, 8.0)
    arr += rng.standard_normal(arr.shape, dtype=np.float32) * np.float32(sigma)
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")


# ---------------------------------------------------------------------------
# writing


def _check_count(label: str, value: object, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def write_synthetic_birds(out_dir: Path, *, num_classes: int, per_class: int,
                          eval_per_class: int | None = None, image_size: int = 64,
                          seed: int = 0) -> SynthSummary:
    """Write the Kaggle layout ``out_dir/{train,valid,test}/<SPECIES NAME>/<index:05d>.jpg``.

    ``per_class`` train images per species; valid and test get ``eval_per_class``
    each (default ``max(5, per_class // 5)``). Rendered into a temporary sibling
    folder and renamed into place, so ``out_dir`` is either complete or absent.
    """
    out_dir = Path(out_dir)
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) \
            or not 2 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be an integer between 2 and {MAX_CLASSES}, "
                         f"got {num_classes!r}; pick a number of species in that range")
    per_class = _check_count("per_class", per_class, 1)
    if eval_per_class is None:
        eval_per_class = max(5, per_class // 5)
    eval_per_class = _check_count("eval_per_class", eval_per_class, 1)
    image_size = _check_count("image_size", image_size, 16)
    _check_seed(seed)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"output path {out_dir} exists and is not a folder; "
                             "pick an empty folder or delete it")
        if any(out_dir.iterdir()):
            raise ValueError(f"output folder {out_dir} is not empty; "
                             "pick an empty folder or delete it")

    genomes = species_genomes(num_classes, seed=seed)
    per_split = {"train": per_class, "valid": eval_per_class, "test": eval_per_class}

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():  # left over by a killed run that had our pid
        shutil.rmtree(tmp)
    try:
        for split, n in per_split.items():
            for cls, genome in enumerate(genomes):
                folder = tmp / split / genome.name
                folder.mkdir(parents=True)
                for i in range(n):
                    img = render_bird(genome, image_rng(seed, split, cls, i), image_size=image_size)
                    img.save(folder / f"{i:05d}.jpg", format="JPEG", quality=92)
            logger.debug(f"{split}: {n} images of each of {len(genomes)} species at {image_size}px")
        existed = out_dir.exists()
        if existed:
            out_dir.rmdir()  # empty (checked above); rename cannot replace a folder
        try:
            tmp.rename(out_dir)
        except BaseException:
            if existed:
                out_dir.mkdir(exist_ok=True)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SynthSummary(
        root=out_dir,
        class_names=sorted(g.name for g in genomes),
        counts={split: n * num_classes for split, n in per_split.items()},
    )
