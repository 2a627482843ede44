"""The .tflite artifacts in an old runtime nobody here wrote: the TFLite Task Library (tflite-support 0.4.4,
the ImageClassifier Android apps use), classifying with nothing but the file's own metadata and labels.

What the issue found with the reference model, reproduced on the tiny one: the fp16 artifact loads and
classifies; the default weight-quantized one is refused for FULLY_CONNECTED version 12, which its
manifest names as needing TFLite 2.17.0; the one exported with --min-runtime 2.14 loads and classifies.
The Task Library lives in its own venv (helpers/old_runtime.py), built on first use (PyPI) and cached;
the test skips, saying why, where it cannot be built.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.exports import TOLERANCES
from helpers.old_runtime import Unavailable, classify, task_library_python

# JPEG decoding differs a little between the Task Library and Pillow, so its scores differ from the
# SavedModel's by the mode's error plus that (measured on the tiny model: 0.006 for dynamic, all modes).
DECODER_SLACK = 0.02


@pytest.fixture(scope="module")
def task_library():
    try:
        return task_library_python()
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def test_images(tiny_run):
    from edgevit.data.folders import load_image_folders

    split = load_image_folders(tiny_run.data_root, splits=("test",)).split("test")
    return list(split.paths)


@pytest.mark.parametrize("artifact", ["fp16", "dynamic-rt2.14"])
def test_the_task_library_loads_and_classifies_with_the_files_own_metadata(task_library, tiny_tflite_for_old_runtimes,
                                                                            tiny_reference, test_images, artifact):
    result = classify(task_library, tiny_tflite_for_old_runtimes[artifact] / "model.tflite", test_images)
    assert result["loaded"], result
    labels = [label for label, _ in result["top1"]]
    assert set(labels) <= set(tiny_reference.labels)  # names from the packed labels.txt, not indices
    chosen = np.array([tiny_reference.labels.index(label) for label in labels])
    agreement = float((chosen == tiny_reference.probabilities.argmax(1)).mean())
    score_error = float(np.abs(np.array([score for _, score in result["top1"]]) - tiny_reference.probabilities.max(1)).max())
    tolerance = TOLERANCES[("tflite", "dynamic" if artifact.startswith("dynamic") else artifact)]
    assert agreement >= tolerance.min_agreement, f"{artifact}: top-1 agreement with the SavedModel {agreement:.1%}"
    assert score_error <= tolerance.max_abs_error + DECODER_SLACK, f"{artifact}: top-1 score differs by {score_error}"


def test_the_default_weight_quantized_artifact_is_refused_for_the_op_its_manifest_names(task_library, tiny_tflite_for_old_runtimes,
                                                                                        test_images):
    folder = tiny_tflite_for_old_runtimes["dynamic"]
    result = classify(task_library, folder / "model.tflite", test_images[:1])
    assert not result["loaded"]
    assert "Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'" in result["error"]
    import json

    support = json.loads((folder / "manifest.json").read_text())["runtime_support"]
    assert {"op": "FULLY_CONNECTED", "version": 12, "min_runtime_version": "2.17.0"} in support["ops"]
