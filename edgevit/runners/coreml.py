"""Core ML artifacts through Core ML itself (coremltools predict): macOS only.

On Linux coremltools can read a model's spec but not run it; use the `coreml-mil-numpy` runner
there (an emulated reference, see edgevit/runners/mil/).
"""

from __future__ import annotations

import platform

import numpy as np

from edgevit.errors import ModelError
from edgevit.artifact import Artifact
from edgevit.runners.base import RunnerInfo
from edgevit.runners.batching import check_images, first_line, predict_in_chunks
from edgevit.runners.options import RunnerOptions, RuntimeUnavailable


def probabilities_from_classifier(output: dict, labels: list[str]) -> np.ndarray:
    """A classifier's label -> probability dictionary as a float32 vector in the manifest's label order."""
    missing = [label for label in labels if label not in output]
    if missing:
        raise ModelError(f"the Core ML classifier output lacks label(s) {missing[:3]}; its labels differ from the manifest's")
    return np.asarray([output[label] for label in labels], dtype=np.float32)


class CoreMLRunner:
    def __init__(self, artifact: Artifact, options: RunnerOptions):
        if platform.system() != "Darwin":
            raise RuntimeUnavailable(
                f"coreml: Core ML is not available on {platform.system()} (it runs only on macOS); "
                "use the runtime coreml-mil-numpy, an emulated reference, here"
            )
        import coremltools as ct  # its import-time warnings are filtered by edgevit.console

        # device cpu/gpu pin Core ML to those units; auto leaves the choice to compute_units (default: all, ANE included).
        unit_name = {"cpu": "cpu_only", "gpu": "cpu_and_gpu"}.get(options.device, options.compute_units)
        units = getattr(ct.ComputeUnit, unit_name.upper())
        try:
            self._model = ct.models.MLModel(str(artifact.model_path), compute_units=units)
        except Exception as exc:  # Core ML raises several types for a damaged package
            raise ModelError(f"{artifact.model_path}: Core ML cannot load it ({first_line(exc)}); re-export the artifact") from None
        self._labels = artifact.labels
        self._height, self._width = artifact.input_size
        self._probs_output = artifact.manifest["output"].get("name", "classLabel_probs")
        self._input_name = artifact.manifest["input"].get("name", "images")
        self.info = RunnerInfo(
            runtime="coreml", version=ct.__version__, device=options.device, threads=None,
            details={"compute_units": unit_name},
        )

    def _run(self, batch: np.ndarray) -> np.ndarray:
        output = self._model.predict({self._input_name: batch})
        return probabilities_from_classifier(output[self._probs_output], self._labels)[None]

    def predict(self, images: np.ndarray) -> np.ndarray:
        images = check_images(images, self._height, self._width)
        return predict_in_chunks(images, 1, self._run, len(self._labels))  # the model's batch is fixed at 1

    def close(self) -> None:
        self._model = None
