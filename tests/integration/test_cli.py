"""The command line: bad input is one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgevit.cli import main
from edgevit.errors import DataError, ModelError, UsageError

CLASSES = ("ALBATROSS", "BARN OWL")


def _folders(root: Path, splits=("train", "valid", "test"), classes=CLASSES, per_class=2, size=16) -> Path:
    rng = np.random.default_rng(0)
    for split in splits:
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def _run(capsys, *argv) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def _train_args(data: Path, out: Path) -> list[str]:
    return ["train", str(data), "--out", str(out), "--variant", "tiny", "--image-size", "16", "--epochs", "1", "--no-pretrained"]


def _assert_one_line(code: int, err: list[str], exit_code: int, *fragments: str) -> None:
    assert code == exit_code, err
    assert len(err) == 1, err
    assert err[0].startswith("edgevit: error: ")
    for fragment in fragments:
        assert fragment in err[0]


def test_missing_data_folder(capsys, tmp_path):
    code, err = _run(capsys, *_train_args(tmp_path / "nowhere", tmp_path / "out"))
    _assert_one_line(code, err, DataError.exit_code, "nowhere")


def test_empty_data_folder(capsys, tmp_path):
    (tmp_path / "data").mkdir()
    code, err = _run(capsys, *_train_args(tmp_path / "data", tmp_path / "out"))
    _assert_one_line(code, err, DataError.exit_code, "train")


def test_classes_differ_between_splits(capsys, tmp_path):
    data = _folders(tmp_path / "data")
    _folders(data, splits=("valid",), classes=("CROW",))
    code, err = _run(capsys, *_train_args(data, tmp_path / "out"))
    _assert_one_line(code, err, DataError.exit_code, "CROW")


def test_file_that_is_not_an_image(capsys, tmp_path):
    data = _folders(tmp_path / "data")
    (data / "train" / CLASSES[0] / "notes.jpg").write_text("not a picture")
    code, err = _run(capsys, *_train_args(data, tmp_path / "out"))
    _assert_one_line(code, err, DataError.exit_code, "notes.jpg")
    assert not (tmp_path / "out" / "saved_model").exists()


def test_truncated_jpeg(capsys, tmp_path):
    data = _folders(tmp_path / "data")
    path = data / "train" / CLASSES[1] / "cut.jpg"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(path, quality=95)
    path.write_bytes(path.read_bytes()[:300])
    code, err = _run(capsys, *_train_args(data, tmp_path / "out"))
    _assert_one_line(code, err, DataError.exit_code, "cut.jpg")


def test_unknown_variant(capsys, tmp_path):
    data = _folders(tmp_path / "data")
    code, err = _run(capsys, "train", str(data), "--out", str(tmp_path / "out"), "--variant", "vit-xxl")
    _assert_one_line(code, err, UsageError.exit_code, "vit-xxl", "vit-l32")


def test_missing_pretrained_weights(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    data = _folders(tmp_path / "data", size=32)
    code, err = _run(capsys, "train", str(data), "--out", str(tmp_path / "out"), "--variant", "vit-b32", "--image-size", "32")
    _assert_one_line(code, err, ModelError.exit_code, "ViT-B_32", str(tmp_path / "keras" / "weights"))


@pytest.mark.parametrize("argv", [["train"], ["frobnicate"], ["data", "synth", "x", "--classes", "many"], ["train", "d", "--out", "o", "--epochs", "0"]])
def test_bad_command_line(capsys, argv):
    code, err = _run(capsys, *argv)
    _assert_one_line(code, err, UsageError.exit_code)


def test_synth_refuses_non_empty_folder(capsys, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("mine")
    code, err = _run(capsys, "data", "synth", str(tmp_path / "data"), "--classes", "2", "--per-class", "2")
    assert code != 0 and len(err) == 1
    assert (tmp_path / "data" / "keep.txt").read_text() == "mine"


def test_console_script_exit_code_and_no_traceback(tmp_path):
    """The installed entry point, as a user runs it: the exit code and stderr survive the process boundary."""
    proc = subprocess.run([sys.executable, "-m", "edgevit", "train", str(tmp_path / "none"), "--out", str(tmp_path / "o"),
                           "--variant", "tiny"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == DataError.exit_code
    assert "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("edgevit:")] == proc.stderr.strip().splitlines()[-1:]


def test_version_is_the_installed_packages(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"edgevit {version('edgevit')}"


@pytest.mark.parametrize("flag, value, message", [
    ("--epochs", "0", "--epochs must be at least 1, got 0"),
    ("--epochs", "-3", "--epochs must be at least 1, got -3"),
    ("--classes", "1", "--classes must be between 2 and 1000, got 1"),
    ("--classes", "1001", "--classes must be between 2 and 1000, got 1001"),
    ("--per-class", "0", "--per-class must be at least 1, got 0"),
])
def test_demo_ranges_are_checked_before_any_data_is_drawn(capsys, tmp_path, flag, value, message):
    out = tmp_path / "demo"
    code, err = _run(capsys, "demo", "--out", str(out), flag, value)
    _assert_one_line(code, err, UsageError.exit_code, message)
    assert not out.exists()  # not even the output folder was made


@pytest.mark.parametrize("typed", ["\x1e", "two\nlines", "para\u2029graph", "bell\x07"])
def test_a_control_character_typed_by_the_user_cannot_break_the_error_line(capsys, typed):
    """Found by the long fuzz profile: `edgevit demo $'\\x1e'` printed its one error over two lines."""
    assert main(["demo", typed]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err == f"edgevit: error: edgevit: unrecognized arguments: {repr(typed)[1:-1]} (see --help)\n"
