"""Fuzzing the data path: every input ends in a correct result or one clear DataError line.

Random bytes as images, truncated and bit-flipped files of every format Pillow writes, odd modes and
EXIF orientations, odd file names, symlink loops and folder layouts that are wrong in many ways.
`--hypothesis-profile=long` runs 2,000 examples per property instead of 60.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from edgevit.config import IMAGE_EXTENSIONS
from edgevit.data.folders import load_image_folders
from edgevit.data.images import load_rgb
from edgevit.errors import DataError

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif", "WEBP": ".webp", "TIFF": ".tif"}
FORMATS = {fmt: ext for fmt, ext in FORMATS.items() if ext in IMAGE_EXTENSIONS}
MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I;16", "I", "F"]
_fs = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line_error(exc: DataError, path: Path) -> None:
    message = str(exc)
    assert "\n" not in message and message, message
    assert str(path) in message


def _load_or_clear_error(path: Path) -> Image.Image | None:
    try:
        image = load_rgb(path)
    except DataError as exc:
        _one_line_error(exc, path)
        return None
    assert image.mode == "RGB" and image.width > 0 and image.height > 0
    return image


def _encoded(fmt: str, mode: str, size: tuple[int, int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).convert("RGB")
    if mode != "RGB":
        image = image.convert(mode) if mode not in ("I;16", "I", "F") else image.convert("L").convert(mode)
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, ValueError, KeyError):
        image.convert("RGB").save(buffer, format=fmt)  # the format cannot store this mode
    return buffer.getvalue()


@_fs
@given(data=st.binary(max_size=4096), ext=st.sampled_from(sorted(IMAGE_EXTENSIONS)))
def test_random_bytes_are_refused_or_read(tmp_path, data, ext):
    path = tmp_path / f"x{ext}"
    path.write_bytes(data)
    _load_or_clear_error(path)


@_fs
@given(
    fmt=st.sampled_from(sorted(FORMATS)),
    mode=st.sampled_from(MODES),
    size=st.tuples(st.integers(1, 48), st.integers(1, 48)),
    seed=st.integers(0, 2**16),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), max_size=4),
)
def test_damaged_files_of_every_format(tmp_path, fmt, mode, size, seed, cut, flips):
    data = bytearray(_encoded(fmt, mode, size, seed))
    data = data[: max(1, int(len(data) * cut))] if cut < 1.0 else data
    for where, xor in flips:
        data[min(len(data) - 1, int(where * len(data)))] ^= xor
    path = tmp_path / f"bird{FORMATS[fmt]}"
    path.write_bytes(bytes(data))
    _load_or_clear_error(path)


@_fs
@given(
    # 32-bit int and float images only exist as TIFF, whose Pillow writer drops EXIF: covered by the damaged-file test.
    mode=st.sampled_from([m for m in MODES if m not in ("I", "F")]),
    size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    orientation=st.integers(1, 8),
)
def test_odd_modes_and_orientations_become_upright_rgb(tmp_path, mode, size, orientation):
    # Each mode in a format that stores it with its EXIF orientation (CMYK: JPEG; the rest: PNG).
    path = tmp_path / ("bird.jpg" if mode == "CMYK" else "bird.png")
    image = Image.fromarray(np.zeros((size[1], size[0], 3), np.uint8)).convert(mode if mode not in ("I;16", "I") else "L")
    if mode in ("I;16", "I"):
        image = image.convert(mode)
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)
    loaded = _load_or_clear_error(path)
    assert loaded is not None
    # Orientations 5-8 rotate by 90 degrees: width and height swap.
    expected = (size[1], size[0]) if orientation >= 5 else size
    assert loaded.size == expected


def test_huge_image_is_refused_not_decoded(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (20000, 12000)).save(path, optimize=False)  # 240 MP: over Pillow's bomb limit
    with pytest.raises(DataError, match="too large"):
        load_rgb(path)


_name_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0")


@_fs
@given(
    classes=st.lists(st.text(_name_chars, min_size=1, max_size=40), min_size=1, max_size=4, unique=True),
    drop=st.sampled_from([None, "train", "valid", "test"]),
    extra=st.booleans(),
    empty_split=st.sampled_from([None, "valid", "test"]),
)
def test_folder_layouts_load_or_fail_clearly(tmp_path_factory, classes, drop, extra, empty_split):
    classes = [c for c in classes if c not in (".", "..")]
    assume(classes)
    root = tmp_path_factory.mktemp("root")
    pixel = _encoded("PNG", "RGB", (4, 4), 0)
    try:
        for split in ("train", "valid", "test"):
            if split == drop:
                continue
            (root / split).mkdir()
            if split == empty_split:
                continue
            names = classes + (["EXTRA BIRD"] if extra and split == "valid" else [])
            for name in names:
                (root / split / name).mkdir(exist_ok=True)
                (root / split / name / "1.png").write_bytes(pixel)
    except OSError:
        assume(False)  # a name this file system cannot hold (e.g. too long in bytes)
    try:
        folders = load_image_folders(root)
    except DataError as exc:
        assert "\n" not in str(exc) and str(root) in str(exc)
        return
    visible = sorted(c for c in classes if not c.startswith(".") and c not in ("Thumbs.db", "desktop.ini"))
    assert list(folders.class_names) == visible
    assert drop is None and empty_split is None and not extra


def test_non_utf8_and_very_long_file_names(tmp_path):
    root = tmp_path / "data"
    pixel = _encoded("PNG", "RGB", (4, 4), 0)
    long_name = "B" * 200
    for split in ("train", "valid", "test"):
        for name in (long_name, "ALBATROSS"):
            folder = root / split / name
            folder.mkdir(parents=True)
            (folder / "ok.png").write_bytes(pixel)
        # A Latin-1 byte that is not valid UTF-8 in the file name.
        os.close(os.open(os.path.join(os.fsencode(root / split / "ALBATROSS"), b"caf\xe9.png"), os.O_CREAT | os.O_WRONLY))
        (root / split / "ALBATROSS" / os.fsdecode(b"caf\xe9.png")).write_bytes(pixel)
    folders = load_image_folders(root)
    assert folders.class_names == ("ALBATROSS", long_name)
    assert len(folders.split("train")) == 3
    assert all(load_rgb(p).size == (4, 4) for p in folders.split("train").paths)


def test_symlink_loop_is_a_clear_error(tmp_path):
    root = tmp_path / "data"
    pixel = _encoded("PNG", "RGB", (4, 4), 0)
    for split in ("train", "valid", "test"):
        (root / split / "ALBATROSS").mkdir(parents=True)
        (root / split / "ALBATROSS" / "1.png").write_bytes(pixel)
    (root / "train" / "ALBATROSS" / "loop").symlink_to(root / "train" / "ALBATROSS")
    (root / "valid" / "ALBATROSS" / "a.png").symlink_to(root / "valid" / "ALBATROSS" / "b.png")
    (root / "valid" / "ALBATROSS" / "b.png").symlink_to(root / "valid" / "ALBATROSS" / "a.png")
    with pytest.raises(DataError) as info:
        load_image_folders(root)
    assert "loop" in str(info.value)
    (root / "train" / "ALBATROSS" / "loop").unlink()
    with pytest.raises(DataError, match=r"a\.png: cannot be read \(Too many levels of symbolic links\)"):
        load_image_folders(root)
