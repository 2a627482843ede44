"""The folder loader on made-up folders: layout, class lists across splits, and every bad-input case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgevit.data.folders import fingerprint, load_image_folders
from edgevit.errors import DataError


def _img(path: Path, color=(200, 30, 30), size=(20, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def _make(root: Path, layout: dict[str, dict[str, int]]) -> Path:
    for split, classes in layout.items():
        for name, count in classes.items():
            for i in range(count):
                _img(root / split / name / f"{i:03d}.jpg", color=(10 * i, 100, 200))
    return root


def test_loads_sorted_classes_and_labels(tmp_path):
    root = _make(tmp_path / "d", {s: {"ZEBRA FINCH": 2, "AMERICAN ROBIN": 3, "BLUE JAY": 1} for s in ("train", "valid", "test")})
    folders = load_image_folders(root)
    assert folders.class_names == ("AMERICAN ROBIN", "BLUE JAY", "ZEBRA FINCH")
    train = folders.split("train")
    assert len(train) == 6
    assert train.labels.tolist() == [0, 0, 0, 1, 2, 2]
    assert [p.parent.name for p in train.paths][:3] == ["AMERICAN ROBIN"] * 3
    assert folders.counts() == {"train": 6, "valid": 6, "test": 6}


def test_hidden_files_are_ignored(tmp_path):
    root = _make(tmp_path / "d", {s: {"A": 1, "B": 1} for s in ("train", "valid")})
    (root / "train" / "A" / ".DS_Store").write_bytes(b"\0\1")
    (root / "train" / ".hidden").mkdir()
    folders = load_image_folders(root, splits=("train", "valid"))
    assert len(folders.split("train")) == 2


def test_fingerprint_changes_with_content(tmp_path):
    root = _make(tmp_path / "d", {s: {"A": 1, "B": 1} for s in ("train", "valid")})
    first = fingerprint(load_image_folders(root, splits=("train", "valid")))
    assert first == fingerprint(load_image_folders(root, splits=("train", "valid")))
    _img(root / "train" / "A" / "000.jpg", color=(1, 2, 3))
    assert fingerprint(load_image_folders(root, splits=("train", "valid"))) != first


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda r: None, "data folder not found"),
        (lambda r: r.mkdir(), "missing split folder(s) train, valid, test"),
        (lambda r: [(r / s).mkdir(parents=True) for s in ("train", "valid", "test")], "no class folders"),
        (lambda r: r.write_text("x"), "not a folder"),
    ],
)
def test_missing_or_empty_data_folder(tmp_path, setup, message):
    root = tmp_path / "d"
    setup(root)
    with pytest.raises(DataError) as info:
        load_image_folders(root)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_classes_differ_between_splits(tmp_path):
    root = _make(tmp_path / "d", {"train": {"A": 1, "B": 1, "C": 1}, "valid": {"A": 1, "B": 1, "D": 1}, "test": {"A": 1, "B": 1, "C": 1}})
    with pytest.raises(DataError, match=r"class folders differ between 'train' and 'valid': 'valid' lacks \['C'\]; 'valid' has extra \['D'\]"):
        load_image_folders(root)


def test_empty_class_folder(tmp_path):
    root = _make(tmp_path / "d", {s: {"A": 1, "B": 1} for s in ("train", "valid", "test")})
    (root / "valid" / "C").mkdir()
    (root / "train" / "C").mkdir()
    (root / "test" / "C").mkdir()
    with pytest.raises(DataError, match="class folder is empty"):
        load_image_folders(root)


def test_non_image_file_in_class_folder(tmp_path):
    root = _make(tmp_path / "d", {s: {"A": 1, "B": 1} for s in ("train", "valid", "test")})
    (root / "train" / "A" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes.txt: not an image file"):
        load_image_folders(root)


def test_file_where_class_folder_expected(tmp_path):
    root = _make(tmp_path / "d", {s: {"A": 1, "B": 1} for s in ("train", "valid", "test")})
    _img(root / "train" / "stray.jpg")
    with pytest.raises(DataError, match="expected only class folders"):
        load_image_folders(root)


def test_labels_are_int32(tmp_path):
    root = _make(tmp_path / "d", {s: {"A": 2, "B": 2} for s in ("train", "valid")})
    assert load_image_folders(root, splits=("train", "valid")).split("valid").labels.dtype == np.int32


@pytest.mark.parametrize("bad_name", ["BARN\nOWL", "BARN\rOWL", "BARN\tOWL", "BARN\u2028OWL", "BARN\x7fOWL"])
def test_a_class_folder_whose_name_holds_a_control_character_is_refused(tmp_path, bad_name):
    """Its name would be two lines (or a garbled one) of labels.txt: refused here, before any training."""
    root = _make(tmp_path / "d", {s: {"ALBATROSS": 1, bad_name: 1} for s in ("train", "valid")})
    with pytest.raises(DataError) as info:
        load_image_folders(root, splits=("train", "valid"))
    message = str(info.value)
    assert info.value.exit_code == 3 and "\n" not in message
    assert message.startswith(repr(str(root / "train" / bad_name)) + ": the class folder's name holds ")
    assert "rename the folder" in message


def test_train_refuses_a_newline_class_folder_before_writing_anything(tmp_path, capsys):
    from edgevit.cli import main

    root = _make(tmp_path / "d", {s: {"ALBATROSS": 1, "BARN\nOWL": 1} for s in ("train", "valid", "test")})
    out = tmp_path / "run"
    assert main(["train", str(root), "--out", str(out), "--variant", "tiny", "--no-pretrained"]) == DataError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "BARN\\nOWL" in err[0] and "control character" in err[0]
    assert not out.exists()
