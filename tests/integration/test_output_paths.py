"""Issue 14: outputs pointed at inputs, at other outputs or at folders of another kind change no byte.

Each case is a command a new user could type; each must exit 2 (usage) with one line on stderr,
before any model runs, and leave every file under the workspace byte-identical (a hash of the whole
tree before and after). The workspace holds copies of the session's tiny run and artifact.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.trees import tree_hash

from edgevit.cli import main
from edgevit.outputs import ARTIFACT, GOLDEN, RUN, SAVED_MODEL


@dataclass(frozen=True)
class Workspace:
    root: Path
    run: Path  # a copy of what `edgevit train` wrote
    saved_model: Path  # run/saved_model
    artifacts: Path  # the --out of an export, holding tflite-dynamic/
    artifact: Path
    golden: Path
    notes: Path  # a user's folder with a notes file
    blocker: Path  # a plain file where a folder would be expected


@pytest.fixture
def workspace(tmp_path, tiny_run, tiny_tflite_and_golden) -> Workspace:
    artifact, golden = tiny_tflite_and_golden
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run_dir, run)
    arts = tmp_path / "arts"
    shutil.copytree(artifact, arts / artifact.name)
    shutil.copytree(golden, tmp_path / "golden")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return Workspace(tmp_path, run, run / "saved_model", arts, arts / artifact.name, tmp_path / "golden", notes, blocker)


@pytest.fixture
def no_work(monkeypatch):
    """Any model run, measurement or export child is a test failure: the refusals come before the work."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the output paths were checked")

    monkeypatch.setattr("edgevit.verify.run.runner_for", forbidden)
    monkeypatch.setattr("edgevit.bench.run.bench_artifacts", forbidden)
    monkeypatch.setattr("edgevit.exporters.jobs._run_child", forbidden)


# (case, argv from the workspace, words the one line must hold)
CASES = [
    ("write-golden over the training run",
     lambda w: ["verify", w.artifacts, "--saved-model", w.saved_model, "--write-golden", w.run], "holds the input"),
    ("write-golden over the artifacts",
     lambda w: ["verify", w.artifacts, "--saved-model", w.saved_model, "--write-golden", w.artifacts], "holds the input"),
    ("write-golden over a folder with a notes file",
     lambda w: ["verify", w.artifacts, "--saved-model", w.saved_model, "--write-golden", w.notes], "notes.txt"),
    ("export into the SavedModel's weights",
     lambda w: ["export", w.saved_model, "--out", w.saved_model, "--name", "variables"], "is the input"),
    ("export into the SavedModel",
     lambda w: ["export", w.saved_model, "--out", w.saved_model], "is the input"),
    ("verify the SavedModel as its own artifact",
     lambda w: ["verify", w.saved_model], "reference SavedModel itself"),
    ("bench over an artifact's manifest",
     lambda w: ["bench", w.artifacts, "--out", w.artifact / "manifest.json"], "is inside the input"),
    ("bench --peak-n 0",
     lambda w: ["bench", w.artifacts, "--peak-n", "0", "--out", w.root / "bench.json"], "--peak-n must be at least 64"),
    ("verify --json at a folder",
     lambda w: ["verify", w.artifacts, "--saved-model", w.saved_model, "--json", w.notes], "is a folder"),
    ("verify --json over a user's file",
     lambda w: ["verify", w.artifacts, "--saved-model", w.saved_model, "--json", w.notes / "notes.txt"], "is not a verify results file"),
    ("verify --records under /proc",
     lambda w: ["verify", w.artifacts, "--saved-model", w.saved_model, "--records", "/proc/edgevit-test/records.json"], "cannot write"),
    ("verify --json and --records at one path",
     lambda w: ["verify", w.artifacts, "--saved-model", w.saved_model, "--json", w.root / "x.json", "--records", w.root / "x.json"],
     "same path"),
    ("bench --out below a file",
     lambda w: ["bench", w.artifacts, "--out", w.blocker / "records.json"], "is a file, not a folder"),
    ("export --out under /proc",
     lambda w: ["export", w.saved_model, "--out", "/proc/edgevit-test"], "cannot write"),
    ("export --out a folder of another kind",
     lambda w: ["export", w.saved_model, "--out", w.notes], "not an artifacts folder"),
    ("report --out a file",
     lambda w: ["report", w.root / "records.json", "--out", w.blocker], "is a file, not a folder"),
    ("report --out the folder holding its records",
     lambda w: ["report", w.artifact / "manifest.json", "--out", w.artifact], "holds the input"),
    ("train --out a user's folder",
     lambda w: ["train", w.root / "data", "--out", w.notes], "not a training run"),
    ("data synth into a user's folder",
     lambda w: ["data", "synth", w.notes], "not a data set"),
    # Found by tests/integration/test_fuzz_outputs.py:
    ("demo --out a user's folder",
     lambda w: ["demo", "--out", w.notes, "--epochs", "1"], "not a demo folder"),
    ("demo --out under /proc",
     lambda w: ["demo", "--out", "/proc/edgevit-test", "--epochs", "1"], "cannot write"),
    ("demo --out below a file",
     lambda w: ["demo", "--out", w.blocker / "demo", "--epochs", "1"], "is a file, not a folder"),
    ("export --name the index it writes beside the artifact",
     lambda w: ["export", w.saved_model, "--out", w.root / "new-arts", "--name", "artifacts.json"], "'artifacts.json'"),
]


@pytest.mark.parametrize("argv, words", [pytest.param(argv, words, id=case) for case, argv, words in CASES])
def test_a_refused_output_changes_no_byte(workspace, no_work, capsys, argv, words):
    before = tree_hash(workspace.root)
    code = main([str(a) for a in argv(workspace)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("edgevit: error: ") and words in err[0], err
    assert tree_hash(workspace.root) == before


def test_export_into_the_saved_model_then_verify_it_never_passes(workspace, no_work, capsys):
    """The issue's sequence: the export is refused, and verify does not call the SavedModel its own artifact."""
    before = tree_hash(workspace.root)
    assert main(["export", str(workspace.saved_model), "--out", str(workspace.saved_model)]) == 2
    assert main(["verify", str(workspace.saved_model)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "is the input" in err[0] and "reference SavedModel itself" in err[1], err
    assert tree_hash(workspace.root) == before


def test_what_edgevit_writes_is_recognised_as_its_own(workspace):
    """Every folder the session's fixtures wrote passes as its kind with no stray file: replacing them works."""
    for kind, folder in ((RUN, workspace.run), (SAVED_MODEL, workspace.saved_model), (ARTIFACT, workspace.artifact),
                         (GOLDEN, workspace.golden)):
        assert kind.recognise(folder) and kind.strays(folder) == [], (kind.title, sorted(p.name for p in folder.iterdir()))


def test_outputs_beside_the_artifacts_are_written_and_replaced(workspace, capsys):
    """The conventional layout (golden/, records and results beside the artifacts) still works, twice."""
    arts = workspace.artifacts
    argv = ["verify", str(arts), "--saved-model", str(workspace.saved_model), "--max-images", "8", "--golden-count", "4",
            "--write-golden", str(arts / "golden"), "--json", str(arts / "verify.json"), "--records", str(arts / "records.json")]
    for _ in range(2):
        code = main(argv)
        err = capsys.readouterr().err
        assert code in (0, 6, 8), err  # the tiny model may miss the default gate, or 8 images cannot decide it; the outputs are what is checked
        assert json.loads((arts / "golden" / "golden.json").read_text())["count"] == 4
        assert json.loads((arts / "verify.json").read_text())["kind"] == "verify"
        assert len(json.loads((arts / "records.json").read_text())["records"]) == 1
    assert GOLDEN.strays(arts / "golden") == []
