"""-v and -q on every command, before or after its name: -q leaves results and errors only, -v adds debug lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgevit.cli import main
from edgevit.errors import DataError
from edgevit.records import write_records

SYNTH = ["--classes", "2", "--per-class", "2", "--eval-per-class", "3", "--image-size", "16"]
SYNTH_DEBUG = ["train: 2 images of each of 2 species at 16px", "valid: 3 images of each of 2 species at 16px",
               "test: 3 images of each of 2 species at 16px"]


def _run(capsys, *argv) -> tuple[int, list[str], list[str]]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def _synth_result(out: Path) -> str:
    return f"wrote 2 synthetic species to {out} (train 4, valid 6, test 6 images)"


def test_synth_at_default_verbosity_prints_its_result_only(capsys, tmp_path):
    code, out, err = _run(capsys, "data", "synth", tmp_path / "d", *SYNTH)
    assert (code, out, err) == (0, [_synth_result(tmp_path / "d")], [])


@pytest.mark.parametrize("where", ["before the command", "between command and sub-command", "after the options"])
def test_verbose_adds_debug_lines_wherever_it_is_written(capsys, tmp_path, where):
    args = {"before the command": ["-v", "data", "synth", tmp_path / "d", *SYNTH],
            "between command and sub-command": ["data", "--verbose", "synth", tmp_path / "d", *SYNTH],
            "after the options": ["data", "synth", tmp_path / "d", *SYNTH, "-v"]}[where]
    code, out, err = _run(capsys, *args)
    assert (code, err) == (0, [])
    assert out == [*SYNTH_DEBUG, _synth_result(tmp_path / "d")]


@pytest.mark.parametrize("argv", [["-q", "data", "synth"], ["data", "synth", "--quiet"]])
def test_quiet_synth_still_prints_its_result(capsys, tmp_path, argv):
    code, out, err = _run(capsys, *argv, tmp_path / "d", *SYNTH)
    assert (code, out, err) == (0, [_synth_result(tmp_path / "d")], [])


def test_the_flag_written_last_wins(capsys, tmp_path):
    code, out, _ = _run(capsys, "-q", "data", "synth", tmp_path / "d", *SYNTH, "-v")
    assert code == 0 and out[:3] == SYNTH_DEBUG


def test_verbose_and_quiet_together_on_one_command_is_a_usage_error(capsys, tmp_path):
    code, out, err = _run(capsys, "data", "synth", tmp_path / "d", "-v", "-q")
    assert code == 2 and out == [] and len(err) == 1 and "not allowed with argument" in err[0]


def _records_then_garbage(tmp_path: Path) -> tuple[Path, Path]:
    good = write_records(tmp_path / "good.json", [])
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    return good, bad


@pytest.mark.parametrize("flag, debug", [(None, False), ("-q", False), ("-v", True)])
def test_report_with_a_bad_records_file(capsys, tmp_path, flag, debug):
    good, bad = _records_then_garbage(tmp_path)
    code, out, err = _run(capsys, "report", good, bad, "--out", tmp_path / "report", *([flag] if flag else []))
    assert code == DataError.exit_code
    assert out == ([f"{good}: 0 records"] if debug else [])
    assert len(err) == 1 and err[0].startswith(f"edgevit: error: {bad}: not valid JSON")


def test_train_progress_is_hidden_by_quiet_and_debug_detail_shown_by_verbose(capsys, tmp_path):
    data = tmp_path / "data"
    assert main(["data", "synth", str(data), *SYNTH]) == 0
    capsys.readouterr()
    train = ["train", data, "--variant", "tiny", "--image-size", "16", "--epochs", "1", "--batch-size", "4", "--no-pretrained"]
    runs = {flag: _run(capsys, *train, "--out", tmp_path / f"out{flag}", *([flag] if flag else [])) for flag in (None, "-q", "-v")}
    for code, _, err in runs.values():
        assert code == 0, err

    progress = "training tiny at 16px on CPU"
    results = [f"SavedModel: {tmp_path / 'out-q' / 'saved_model'}", "best epoch 1 of 1:"]
    default_out, quiet_out, verbose_out = (runs[flag][1] for flag in (None, "-q", "-v"))
    assert any(line.startswith(progress) for line in default_out), default_out
    assert not any(line.startswith("training options:") for line in default_out)
    # Quiet: the progress line is gone (and Keras is told verbose=0); the command's two result lines stay.
    assert len(quiet_out) == 2 and quiet_out[0] == results[0] and quiet_out[1].startswith(results[1]), quiet_out
    assert any(line.startswith(progress) for line in verbose_out)
    assert any(line.startswith("training options: {") and "'variant': 'tiny'" in line for line in verbose_out), verbose_out
