"""Image decoding: odd modes are converted to RGB, broken files give one clear DataError line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgevit.config import Preprocessing
from edgevit.data.images import load_rgb
from edgevit.data.preprocess import normalize, preprocess
from edgevit.errors import DataError


@pytest.mark.parametrize(
    "mode, value, ext, expected",
    [
        ("L", 128, ".png", (128, 128, 128)),
        ("RGBA", (255, 0, 0, 0), ".png", (255, 255, 255)),  # fully transparent -> white background
        ("RGBA", (255, 0, 0, 255), ".png", (255, 0, 0)),
        ("LA", (0, 255), ".png", (0, 0, 0)),
        ("P", 3, ".png", None),
        ("CMYK", (0, 0, 0, 0), ".jpg", (255, 255, 255)),
        ("I;16", 65535, ".png", (255, 255, 255)),
        ("I;16", 32768, ".png", (128, 128, 128)),
        ("1", 1, ".png", (255, 255, 255)),
    ],
)
def test_odd_modes_become_rgb(tmp_path, mode, value, ext, expected):
    path = tmp_path / f"img{ext}"
    Image.new(mode, (8, 6), value).save(path)
    image = load_rgb(path)
    assert image.mode == "RGB" and image.size == (8, 6)
    if expected is not None:
        np.testing.assert_allclose(np.asarray(image)[0, 0], expected, atol=2)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rot.jpg"
    image = Image.new("RGB", (30, 10), (0, 200, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    image.save(path, exif=exif)
    assert load_rgb(path).size == (10, 30)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.effect_noise((64, 64), 50).convert("RGB").save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt or truncated image") as info:
        load_rgb(path)
    assert "\n" not in str(info.value)


def test_not_an_image(tmp_path):
    path = tmp_path / "fake.jpg"
    path.write_text("this is text, not a JPEG")
    with pytest.raises(DataError, match="not an image Pillow can read"):
        load_rgb(path)


def test_preprocess_scales_to_minus_one_one(tmp_path):
    spec = Preprocessing(height=4, width=6)
    pixels = np.zeros((10, 12, 3), np.uint8)
    pixels[..., 0] = 255
    x = preprocess(pixels, spec)
    assert x.shape == (4, 6, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], 1.0)
    np.testing.assert_allclose(x[..., 1:], -1.0)
    # The file path, PIL and array routes agree exactly.
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.testing.assert_array_equal(preprocess(tmp_path / "a.png", spec), x)
    np.testing.assert_array_equal(normalize(np.full((1, 1, 3), 127.5), spec), np.zeros((1, 1, 3)))
