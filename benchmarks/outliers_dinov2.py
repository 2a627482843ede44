"""Activation outlier ratios per transformer block of a trained edgevit model, next to the same architecture
with random weights: do real pretrained weights carry the outlier channels that break activation quantization?

    .venv/bin/python benchmarks/outliers_dinov2.py runs/demo-pretrained/train [--images 64]

For each block: the output of LayerNorm_0 (attention input), LayerNorm_2 (MLP input) and the block output.
At each site, per channel c: m_c = max |x| over every token of every image; the outlier ratio is
max_c m_c / median_c m_c (1 = no channel stands out). The images are the run's test split, preprocessed by
edgevit's preprocess(). The trained weights are the run's checkpoints/best.weights.h5, the weights its
SavedModel was written from (the SavedModel's one signature does not expose inner activations).
Writes benchmarks/results/outliers-<variant>-<machine id>-<YYYY-MM-DD>.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def outlier_ratio(x: np.ndarray) -> float:
    per_channel = np.abs(x.reshape(-1, x.shape[-1])).max(axis=0)
    return float(per_channel.max() / max(np.median(per_channel), 1e-12))


def block_ratios(keras, model, variant: str, images: np.ndarray) -> list[dict]:
    base = model.get_layer(variant)
    x = np.asarray(keras.Model(base.input, base.get_layer("Transformer_posembed_input").output)(images))
    rows = []
    i = 0
    while True:
        try:
            block = base.get_layer(f"Transformer_encoderblock_{i}")
        except ValueError:
            break
        ln1 = block.layernorm1(x)
        attended, _ = block.att(ln1)
        mid = x + attended
        ln2 = block.layernorm2(mid)
        x = np.asarray(mid + block.mlpblock(ln2))
        rows.append({"block": i, "after_layernorm_0": outlier_ratio(np.asarray(ln1)),
                     "after_layernorm_2": outlier_ratio(np.asarray(ln2)), "block_output": outlier_ratio(x),
                     "block_output_max_abs": float(np.abs(x).max())})
        i += 1
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="an `edgevit train` --out folder (saved_model/manifest.json, checkpoints/best.weights.h5)")
    p.add_argument("--images", type=int, default=64, help="test images used (default %(default)s)")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)

    from edgevit.data.batches import load_pixels
    from edgevit.data.folders import load_image_folders
    from edgevit.data.preprocess import normalize
    from edgevit.keras_backend import import_keras
    from edgevit.manifest import preprocessing_of
    from edgevit.models import ClassifierConfig, build_classifier
    from edgevit.portable.machine import fingerprint

    keras = import_keras()
    run = Path(args.run)
    manifest = json.loads((run / "saved_model" / "manifest.json").read_text())
    config = ClassifierConfig.from_dict(manifest["model"])
    spec = preprocessing_of(manifest)
    split = load_image_folders(Path(manifest["dataset"]["root"]), splits=("test",)).split("test")
    images = normalize(load_pixels(split, spec)[: args.images], spec)

    trained = build_classifier(config)
    trained.load_weights(str(run / "checkpoints" / "best.weights.h5"))
    keras.utils.set_random_seed(0)
    random = build_classifier(config)  # vit-keras's own initialisers
    rows_trained = block_ratios(keras, trained, config.variant, images)
    rows_random = block_ratios(keras, random, config.variant, images)

    machine = fingerprint()
    date = dt.date.today().isoformat()
    result = {"kind": "outliers", "date": date, "machine": machine, "variant": config.variant,
              "image_size": config.image_size, "images": int(len(images)),
              "weights": manifest["training"].get("pretrained_weights"), "trained": rows_trained, "random_init": rows_random,
              "load_average_1min": os.getloadavg()[0],
              "command": "python benchmarks/outliers_dinov2.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    name = f"outliers-{config.variant}-{machine['id']}-{date}"
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Activation outlier ratios per block: {config.variant}, {len(images)} test images at {config.image_size} px",
             "", f"{date}, {machine['id']}. Ratio = max over channels / median over channels of the per-channel max |x| "
             "(over all tokens of all images). `trained`: the fine-tuned pretrained model; `random`: the same "
             "architecture with vit-keras's initialisers.", "", f"Command: `{result['command']}`", "",
             "| block | LN_0 trained | LN_0 random | LN_2 trained | LN_2 random | output trained | output random | output max abs (trained) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t, r in zip(rows_trained, rows_random):
        lines.append(f"| {t['block']} | {t['after_layernorm_0']:.1f} | {r['after_layernorm_0']:.1f} | {t['after_layernorm_2']:.1f} | "
                     f"{r['after_layernorm_2']:.1f} | {t['block_output']:.1f} | {r['block_output']:.1f} | {t['block_output_max_abs']:.1f} |")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
