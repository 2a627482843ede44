"""Tests for the synthetic birds data set (edgevit.data.synth)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgevit.data import synth
from edgevit.data.synth import (
    BEAKS, CRESTS, MARKINGS, MAX_CLASSES, SHAPES, TAILS, image_rng, render_bird, species_genomes,
    write_synthetic_birds,
)

NAME_RE = re.compile(r"^[A-Z]+(?:[ -][A-Z]+)*$")
REPO_ROOT = Path(__file__).resolve().parents[3]


def _render(seed: int, cls: int, index: int, *, split: str = "train", size: int = 32) -> np.ndarray:
    genome = species_genomes(max(2, cls + 1), seed=seed)[cls]
    return np.asarray(render_bird(genome, image_rng(seed, split, cls, index), image_size=size))


def test_same_seed_gives_identical_images_and_genomes():
    assert species_genomes(8, seed=3) == species_genomes(8, seed=3)
    a = _render(3, 1, 7)
    b = _render(3, 1, 7)
    assert a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_image_does_not_depend_on_render_order():
    g = species_genomes(3, seed=0)[2]
    alone = np.asarray(render_bird(g, image_rng(0, "valid", 2, 4), image_size=32))
    for i in range(4):  # render other images first
        render_bird(g, image_rng(0, "valid", 2, i), image_size=32)
    again = np.asarray(render_bird(g, image_rng(0, "valid", 2, 4), image_size=32))
    assert np.array_equal(alone, again)


def test_image_identical_in_another_process():
    code = (
        "import hashlib, numpy as np\n"
        "from edgevit.data.synth import species_genomes, render_bird, image_rng\n"
        "g = species_genomes(4, seed=5)[3]\n"
        "a = np.asarray(render_bird(g, image_rng(5, 'test', 3, 11), image_size=48))\n"
        "print(hashlib.sha256(a.tobytes()).hexdigest())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True)
    out = proc.stdout.strip()
    here = hashlib.sha256(_render(5, 3, 11, split="test", size=48).tobytes()).hexdigest()
    assert out == here


def test_different_seed_split_or_index_gives_different_images():
    base = _render(0, 1, 0)
    assert not np.array_equal(base, _render(1, 1, 0))
    assert not np.array_equal(base, _render(0, 1, 1))
    assert not np.array_equal(base, _render(0, 1, 0, split="test"))
    # pixel-level difference, not just a few flipped bits
    assert np.abs(base.astype(int) - _render(1, 1, 0).astype(int)).mean() > 10
    names = {seed: [g.name for g in species_genomes(10, seed=seed)] for seed in (0, 1)}
    assert names[0] != names[1]


def test_250_species_are_distinct_with_valid_unique_names():
    genomes = species_genomes(250, seed=0)
    assert len(genomes) == 250
    names = [g.name for g in genomes]
    assert len(set(names)) == 250
    for name in names:
        assert NAME_RE.match(name), name
        assert 2 <= len(name.split()) <= 4
    assert len({g.colour_key() for g in genomes}) == 250
    for g in genomes:
        assert g.beak in BEAKS and g.tail in TAILS and g.crest in CRESTS
        assert g.markings in MARKINGS and g.body_shape in SHAPES
        assert 0.12 <= g.leg_length <= 0.40
        assert len(set(g.colour_key())) >= 2
    keys = [g.visual_key() for g in genomes]
    for i in range(len(keys)):
        for j in range(i):
            assert sum(x != y for x, y in zip(keys[i], keys[j])) >= 2
    # a smaller set is a prefix of a larger one, so class i means the same bird
    assert species_genomes(10, seed=0) == genomes[:10]


def test_max_classes_supported():
    assert MAX_CLASSES >= 300
    genomes = species_genomes(300, seed=7)
    assert len({g.name for g in genomes}) == 300


@pytest.mark.parametrize("size", [16, 32, 64])
def test_images_are_rgb_of_requested_size(size):
    g = species_genomes(2, seed=0)[0]
    img = render_bird(g, image_rng(0, "train", 0, 0), image_size=size)
    assert img.mode == "RGB"
    assert img.size == (size, size)
    arr = np.asarray(img)
    assert arr.std() > 5  # not a blank canvas


def test_write_layout_and_counts(tmp_path):
    out = tmp_path / "birds"
    summary = write_synthetic_birds(out, num_classes=3, per_class=4, image_size=32, seed=0)
    assert summary.root == out
    assert summary.counts == {"train": 12, "valid": 15, "test": 15}  # eval default max(5, 4 // 5)
    assert summary.class_names == sorted(g.name for g in species_genomes(3, seed=0))
    assert sorted(p.name for p in out.iterdir()) == ["test", "train", "valid"]
    for split, per_class in (("train", 4), ("valid", 5), ("test", 5)):
        assert sorted(p.name for p in (out / split).iterdir()) == summary.class_names
        for name in summary.class_names:
            files = sorted(p.name for p in (out / split / name).iterdir())
            assert files == [f"{i:05d}.jpg" for i in range(per_class)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["birds"]  # no temp folder left

    first = species_genomes(3, seed=0)[0]
    with Image.open(out / "train" / first.name / "00002.jpg") as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (32, 32)
        on_disk = np.asarray(im).astype(int)
    rendered = np.asarray(render_bird(first, image_rng(0, "train", 0, 2), image_size=32))
    rendered = rendered.astype(int)
    assert np.abs(on_disk - rendered).mean() < 6  # only JPEG loss


def test_write_explicit_eval_count_and_empty_existing_folder(tmp_path):
    out = tmp_path / "birds"
    out.mkdir()
    summary = write_synthetic_birds(out, num_classes=2, per_class=1, eval_per_class=2,
                                    image_size=16)
    assert summary.counts == {"train": 2, "valid": 4, "test": 4}
    assert len(list(out.glob("*/*/*.jpg"))) == 10


def test_non_empty_output_folder_is_refused(tmp_path):
    out = tmp_path / "birds"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="pick an empty folder or delete it") as info:
        write_synthetic_birds(out, num_classes=2, per_class=1, image_size=16)
    assert "\n" not in str(info.value)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "mine"


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    real = synth.render_bird
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "render_bird", flaky)
    out = tmp_path / "birds"
    with pytest.raises(RuntimeError, match="boom"):
        write_synthetic_birds(out, num_classes=3, per_class=4, image_size=16)
    assert calls["n"] == 6
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": MAX_CLASSES + 1}, "num_classes"),
        ({"per_class": 0}, "per_class"),
        ({"eval_per_class": 0}, "eval_per_class"),
        ({"image_size": 8}, "image_size"),
        ({"seed": -1}, "seed"),
    ],
)
def test_invalid_arguments_are_rejected(tmp_path, kwargs, field):
    args = {"num_classes": 2, "per_class": 1, "image_size": 16} | kwargs
    with pytest.raises(ValueError, match=field):
        write_synthetic_birds(tmp_path / "birds", **args)
    assert list(tmp_path.iterdir()) == []


def test_nearest_class_mean_is_above_chance_but_not_sufficient():
    # Measured with this setup: nearest-mean accuracy 0.325 (chance 1/6); seeds 1-3 give 0.33-0.46.
    classes, n_train, n_test, seed = 6, 40, 20, 0
    genomes = species_genomes(classes, seed=seed)

    def features(split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        xs = [np.asarray(render_bird(g, image_rng(seed, split, c, i), image_size=32)
                         .resize((16, 16), Image.Resampling.BOX), dtype=np.float32).ravel() / 255
              for c, g in enumerate(genomes) for i in range(n)]
        return np.stack(xs), np.repeat(np.arange(classes), n)

    x_train, y_train = features("train", n_train)
    x_test, y_test = features("test", n_test)
    means = np.stack([x_train[y_train == c].mean(0) for c in range(classes)])
    pred = ((x_test[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    acc = float((pred == y_test).mean())
    assert acc > 0.25, f"nearest-mean accuracy {acc:.3f}: classes are not separable enough"
    assert acc < 0.80, f"nearest-mean accuracy {acc:.3f}: data set is too trivial"
