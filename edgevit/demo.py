"""`edgevit demo`: the main job on built-in data, end to end, with a pass/fail gate on accuracy."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from edgevit.config import DemoConfig
from edgevit.errors import EdgeVitError, UsageError
from edgevit.fsutil import atomic_write_json

DATA_MARKER = "data.json"


class DemoGateError(EdgeVitError):
    exit_code = 7


def _prepare_data(out: Path, config: DemoConfig) -> Path:
    """Draw the synthetic birds once; reuse them while the options are unchanged."""
    from edgevit.data.synth import write_synthetic_birds

    data, marker = out / "data", out / DATA_MARKER
    wanted = {"num_classes": config.num_classes, "per_class": config.per_class, "eval_per_class": config.eval_per_class,
              "image_size": config.image_size, "seed": config.seed}
    if marker.is_file() and json.loads(marker.read_text()).get("options") == wanted and data.is_dir():
        print(f"[data] reusing synthetic birds in {data}")
        return data
    if data.exists():
        if not marker.is_file():
            raise UsageError(f"{data} exists and was not written by the demo; pick another --out")
        shutil.rmtree(data)
    started = time.perf_counter()
    try:
        summary = write_synthetic_birds(data, num_classes=config.num_classes, per_class=config.per_class,
                                        eval_per_class=config.eval_per_class, image_size=config.image_size, seed=config.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    atomic_write_json(marker, {"options": wanted, "counts": summary.counts})
    print(f"[data] drew {sum(summary.counts.values())} images of {config.num_classes} species in "
          f"{time.perf_counter() - started:.1f} s (wall clock) -> {data}")
    return data


def run_demo(out: Path, config: DemoConfig) -> int:
    from edgevit.train import STATE_NAME, train

    out.mkdir(parents=True, exist_ok=True)
    data = _prepare_data(out, config)
    train_dir = out / "train"
    if train_dir.exists():
        if not (train_dir / STATE_NAME).is_file():
            raise UsageError(f"{train_dir} exists and was not written by edgevit; pick another --out")
        shutil.rmtree(train_dir)  # the demo always retrains from scratch
    result = train(data, train_dir, config.train)
    print(f"[train] {result.epochs_run} epochs in {result.seconds:.0f} s (wall clock), best epoch {result.best_epoch}: "
          f"val accuracy {result.val_accuracy:.2%}, test accuracy {result.test_accuracy:.2%} "
          f"(chance {1 / config.num_classes:.0%})")
    print(f"[train] SavedModel + manifest.json -> {result.saved_model}")
    atomic_write_json(out / "demo.json", {"config": asdict(config), "test_accuracy": result.test_accuracy,
                                          "val_accuracy": result.val_accuracy, "saved_model": str(result.saved_model)})
    if result.test_accuracy < config.min_test_accuracy:
        raise DemoGateError(f"test accuracy {result.test_accuracy:.2%} is below the demo's gate of "
                            f"{config.min_test_accuracy:.0%}; training did not converge")
    print(f"demo finished: everything is under {out}")
    return 0
