"""User-supplied models, manifests and checkpoints are data, never code, and never reach outside their folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgevit.errors import ModelError
from edgevit.fsutil import path_inside
from edgevit.artifact import open_artifact

PACKAGE = Path(__file__).resolve().parents[2] / "edgevit"
# Each of these can execute code stored in a file a user hands us.
UNSAFE = {
    r"allow_pickle\s*=\s*True": "numpy pickle loading",
    r"\bpickle\.loads?\(": "pickle",
    r"safe_mode\s*=\s*False": "Keras unsafe deserialization",
    r"enable_unsafe_deserialization": "Keras unsafe deserialization",
    r"(models|saving)\.load_model\(": "Keras model deserialization (rebuild from the manifest and load weights instead)",
    r"\beval\(|\bexec\(": "eval/exec",
}


# The one place a user's Keras file is deserialized: `edgevit import FILE.keras`, in Keras' safe mode unless the
# user passes --allow-unsafe (which warns); a Lambda layer is otherwise refused in one line.
SAFE_MODE_IMPORT = ("savedmodel/importing.py", "keras.saving.load_model(str(path), compile=False, safe_mode=not allow_unsafe)")


def test_no_code_path_deserializes_user_files_unsafely():
    found = []
    for path in PACKAGE.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if (str(path.relative_to(PACKAGE)), SAFE_MODE_IMPORT[1]) == (SAFE_MODE_IMPORT[0], code.strip().removeprefix("return ")):
                continue
            for pattern, what in UNSAFE.items():
                if re.search(pattern, code):
                    found.append(f"{path.relative_to(PACKAGE)}:{number}: {what}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_import_loads_keras_files_in_safe_mode_unless_told_otherwise():
    import dataclasses

    from edgevit.savedmodel.importing import ImportOptions

    assert {f.name: f.default for f in dataclasses.fields(ImportOptions)}["allow_unsafe"] is False


@pytest.mark.parametrize("relative", ["../outside.tflite", "../../etc/passwd", "/etc/passwd", "sub/../../x", ""])
def test_paths_escaping_a_folder_are_refused(tmp_path, relative):
    (tmp_path / "artifact").mkdir()
    assert path_inside(tmp_path / "artifact", relative) is None


def test_symlink_escaping_a_folder_is_refused(tmp_path):
    (tmp_path / "artifact").mkdir()
    (tmp_path / "secret.bin").write_bytes(b"x")
    (tmp_path / "artifact" / "model.tflite").symlink_to(tmp_path / "secret.bin")
    assert path_inside(tmp_path / "artifact", "model.tflite") is None
    assert path_inside(tmp_path / "artifact", "ok/model.tflite") == (tmp_path / "artifact" / "ok" / "model.tflite").resolve()


def test_the_host_and_the_device_harness_share_one_inside_check(tmp_path):
    from edgevit.fsutil import is_within
    from edgevit.portable.errors import HarnessError
    from edgevit.portable.files import inside

    (tmp_path / "artifact" / "sub").mkdir(parents=True)
    (tmp_path / "artifact" / "escape").symlink_to(tmp_path)
    assert is_within(tmp_path / "artifact" / "sub" / "..", tmp_path / "artifact")
    assert not is_within(tmp_path / "artifact" / "escape", tmp_path / "artifact")
    assert not is_within(tmp_path / "artifact-2", tmp_path / "artifact")  # a name prefix is not a parent
    assert inside(tmp_path / "artifact", "sub", "golden_dir") == (tmp_path / "artifact" / "sub").resolve()
    with pytest.raises(HarnessError, match="'escape/x' points outside the bundle") as caught:
        inside(tmp_path / "artifact", "escape/x", "artifact_dir")
    assert caught.value.exit_code == 4


def test_artifact_manifest_pointing_outside_is_refused(tiny_run, tmp_path):
    folder = tmp_path / "artifact"
    shutil.copytree(tiny_run.saved_model, tmp_path / "sm")
    folder.mkdir()
    manifest = json.loads((tiny_run.saved_model / "manifest.json").read_text())
    (tmp_path / "outside.tflite").write_bytes(b"TFL3")
    manifest.update(kind="artifact", format="tflite", quantization="fp32", file="../outside.tflite")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="points outside the artifact folder"):
        open_artifact(folder)


def test_checkpoint_with_pickled_objects_is_refused(tmp_path):
    from edgevit.training.train import _load_extra_state

    path = tmp_path / "last.optimizer.npz"
    np.savez(path, **{"optimizer/0": np.array([object()], dtype=object)})
    with pytest.raises(ModelError, match="not a plain array checkpoint"):
        _load_extra_state(None, path)
