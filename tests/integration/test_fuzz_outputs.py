"""Reliability category of issue 14: outputs pointed at inputs and at each other.

Hypothesis draws a command x one of its output options x a target: one of the command's inputs, a
path inside one, a folder holding one, a folder of another kind edgevit wrote, a user's file or
folder, an unwritable path, a path below a plain file, another output of the same command, or a new
path (the control: the one legitimate target). Each example runs `edgevit.cli.main` in-process
against one workspace and hashes the whole workspace tree before and after it:

- a refused target: exit != 0 and != 70, exactly one line on stderr, no traceback, and the tree
  byte-identical (nothing changed, nothing added);
- the new path: the command gets past its checks (it reaches its work, or finishes when its work is
  only copying files), and every file that was there before is byte-identical.

The heavy entry points (training, export children, model runners, bench measurement, drawing birds)
raise WorkStarted: a refused case that reaches one fails, so every refusal comes before any work.
The workspace is built once per test function and put back after each example (new paths removed,
the tree hash checked), so an example costs one command line, not a model.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from helpers.trees import tree_hash
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from edgevit.cli import INTERNAL_ERROR_EXIT, main

ROOT = Path(__file__).resolve().parents[2]
RECORDS_SAMPLE = ROOT / "benchmarks" / "results" / "demo_linux-x86_64-amd-epyc-2c-24g_2026-11-23.json"
RECIPE = ROOT / "export" / "demo.toml"
UNWRITABLE = ("/proc/edgevit-fuzz", "/proc/edgevit-fuzz/out/records.json", "/proc/version", "/proc")
NAMES = ("out", "records.json", "verify.json", "golden", "report", "new-folder")  # each also a valid artifact name


class WorkStarted(BaseException):
    """A heavy entry point was reached: the command accepted its outputs. A BaseException so that
    cli.main (which turns every Exception into exit 70) lets it through to the test."""


@dataclass(frozen=True)
class Workspace:
    root: Path
    data: Path  # a copy of the session's tiny data set
    run: Path  # a copy of what `edgevit train` wrote
    saved_model: Path  # run/saved_model
    artifacts: Path  # an artifacts root (the --out of `edgevit export`) holding `artifact`
    artifact: Path
    golden: Path
    bundle: Path  # what `edgevit device bundle` wrote
    report: Path  # what `edgevit report` wrote
    records: Path  # a records file
    recipe: Path
    notes: Path  # a user's folder with a notes file
    user_file: Path
    blocker: Path  # a plain file where a folder would be expected
    user_zip: Path  # a user's file where `device bundle --zip` would put BUNDLE_OUT.zip
    fresh: Path  # an empty folder: new paths go under it

    def kinds(self) -> dict[str, Path]:
        """Folders edgevit wrote, by the kind each one is."""
        return {"golden": self.golden, "artifacts": self.artifacts, "artifact": self.artifact, "run": self.run,
                "saved_model": self.saved_model, "bundle": self.bundle, "report": self.report}


@dataclass(frozen=True)
class Slot:
    """One output option of one command."""

    name: str  # "verify --json"
    argv: Callable[[Workspace, Path], list]  # the command line writing this output to a target
    inputs: Callable[[Workspace], list[Path]]  # what the command reads
    own_kind: str | None  # the folder kind this output is (excluded from "a folder of another kind")
    collisions: Callable[[Workspace, Path], list[list]] = lambda w, target: []  # the target also named by another output
    runs_to_the_end: bool = False  # its work is copying files: the control exits 0 instead of reaching WorkStarted


def _verify(option: str):
    def argv(w: Workspace, target: Path, extra: tuple = ()) -> list:
        return ["verify", w.artifacts, "--saved-model", w.saved_model, "--data", w.data, "--recipe", w.recipe,
                "--max-images", "4", option, target, *extra]
    return argv


def _verify_collisions(option: str):
    others = [o for o in ("--json", "--records", "--write-golden") if o != option]

    def collisions(w: Workspace, target: Path) -> list[list]:
        argv = _verify(option)
        # Another output at the same path, inside this one, or holding this one.
        return ([argv(w, target, (other, target)) for other in others]
                + [argv(w, target, (other, target / "x.json")) for other in others]
                + [argv(w, target / "x.json", (other, target)) for other in others])
    return collisions


def _verify_inputs(w: Workspace) -> list[Path]:
    return [w.artifact, w.saved_model, w.data, w.recipe]


SLOTS = [
    Slot("verify --json", _verify("--json"), _verify_inputs, None, _verify_collisions("--json")),
    Slot("verify --records", _verify("--records"), _verify_inputs, None, _verify_collisions("--records")),
    Slot("verify --write-golden", _verify("--write-golden"), _verify_inputs, "golden", _verify_collisions("--write-golden")),
    Slot("export --out", lambda w, t: ["export", w.saved_model, "--out", t], lambda w: [w.saved_model], "artifacts",
         # the artifact folder OUT/<name> at the path of the index export writes beside it
         lambda w, t: [["export", w.saved_model, "--out", t, "--name", "artifacts.json"]]),
    Slot("export --out --name", lambda w, t: ["export", w.saved_model, "--out", t.parent, "--name", t.name],
         lambda w: [w.saved_model], "artifact"),
    Slot("bench --out", lambda w, t: ["bench", w.artifacts, "--saved-model", w.saved_model, "--verify", w.records, "--out", t],
         lambda w: [w.artifact, w.saved_model, w.records], None),
    Slot("report --out", lambda w, t: ["report", w.records, "--out", t], lambda w: [w.records], "report",
         runs_to_the_end=True),
    Slot("train --out", lambda w, t: ["train", w.data, "--out", t, "--variant", "tiny", "--epochs", "1", "--no-pretrained"],
         lambda w: [w.data], "run"),
    Slot("data synth OUT", lambda w, t: ["data", "synth", t, "--classes", "2", "--per-class", "5"], lambda w: [], None),
    Slot("device bundle OUT", lambda w, t: ["device", "bundle", w.artifact, t, "--golden", w.golden],
         lambda w: [w.artifact, w.golden], "bundle",
         lambda w, t: [["device", "bundle", w.artifact, w.user_zip.with_suffix(""), "--golden", w.golden, "--zip"]],
         runs_to_the_end=True),
    Slot("ios-sync --models-dir", lambda w, t: ["ios-sync", w.artifact, "--golden", w.golden, "--models-dir", t],
         lambda w: [w.artifact, w.golden], None, runs_to_the_end=True),
    Slot("demo --out", lambda w, t: ["demo", "--out", t, "--classes", "2", "--per-class", "5", "--epochs", "1"],
         lambda w: [], None),
    Slot("import --out", lambda w, t: ["import", w.saved_model, "--out", t, "--labels", w.saved_model / "labels.txt",
                                       "--preprocess", "[-1,1]"],
         lambda w: [w.saved_model], None),
    # The weights file must end in .npz: a new path gets the suffix, every other target is passed as drawn.
    Slot("weights import --out", lambda w, t: ["weights", "import", w.recipe, "--out", t.with_suffix(".npz") if t.parent == w.fresh else t],
         lambda w: [w.recipe], None),
    Slot("debug layers --out", lambda w, t: ["debug", "layers", w.artifact, "--saved-model", w.saved_model, "--data", w.data,
                                             "--out", t],
         lambda w: [w.artifact, w.saved_model, w.data], None),
]


@dataclass(frozen=True)
class Case:
    slot: Slot
    target: str  # which kind of target was drawn
    argv: list
    legitimate: bool


def _inside(path: Path, names: tuple[str, ...]) -> list[Path]:
    """Paths inside `path`: what is there (a folder's entries) and a new name below it."""
    existing = sorted(path.iterdir()) if path.is_dir() else []
    return existing + [path / name for name in names]


def _holders(w: Workspace, path: Path) -> list[Path]:
    """The folders above `path`, up to and including the workspace root."""
    return [p for p in path.parents if p == w.root or w.root in p.parents]


@st.composite
def cases(draw, w: Workspace) -> Case:
    slot = draw(st.sampled_from(SLOTS))
    inputs = slot.inputs(w)
    targets = {
        "a new path": lambda: [w.fresh / name for name in NAMES],
        "an input": lambda: inputs,
        "a path inside an input": lambda: [p for source in inputs for p in _inside(source, NAMES[:2])],
        "a folder holding an input": lambda: [p for source in inputs for p in _holders(w, source)],
        "a folder of another kind": lambda: [p for kind, p in w.kinds().items() if kind != slot.own_kind],
        "a user's file": lambda: [w.user_file, w.notes / "notes.txt"],
        "a user's folder": lambda: [w.notes],
        "an unwritable path": lambda: [Path(p) for p in UNWRITABLE],
        "a path below a plain file": lambda: [w.blocker / "out", w.blocker / "out" / "records.json", w.user_file / "x"],
    }
    collisions = slot.collisions(w, w.fresh / draw(st.sampled_from(NAMES)))
    kinds = [k for k, paths in targets.items() if paths()] + (["another output"] if collisions else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "another output":
        argv = draw(st.sampled_from(collisions))
    else:
        argv = slot.argv(w, draw(st.sampled_from(targets[kind]())))
    return Case(slot, kind, [str(a) for a in argv], legitimate=kind == "a new path")


@pytest.fixture
def workspace(tmp_path, tiny_run, tiny_tflite_and_golden) -> Workspace:
    """Copies of the session's tiny data, run, artifact and golden vectors, a bundle and a report made from them,
    a records file, a recipe, and a few things a user owns."""
    from edgevit.device.bundle import make_bundle
    from edgevit.records import read_records
    from edgevit.report import write_report

    artifact, golden = tiny_tflite_and_golden
    root = tmp_path / "ws"
    shutil.copytree(tiny_run.data_root, root / "data")
    shutil.copytree(tiny_run.run_dir, root / "run")
    shutil.copytree(artifact.parent, root / "arts")  # the export's --out: artifacts.json, logs/ and the artifact
    shutil.copytree(golden, root / "golden")
    shutil.copy(RECORDS_SAMPLE, root / "records.json")
    shutil.copy(RECIPE, root / "recipe.toml")
    make_bundle(artifact=root / "arts" / artifact.name, out=root / "bundle", golden=root / "golden")
    write_report(read_records([root / "records.json"]), root / "report")
    (root / "notes").mkdir()
    (root / "notes" / "notes.txt").write_text("mine")
    (root / "mine.txt").write_text("a user's file")
    (root / "a-file").write_text("not a folder")
    (root / "bundle-out.zip").write_bytes(b"a user's zip")
    (root / "fresh").mkdir()
    return Workspace(root, root / "data", root / "run", root / "run" / "saved_model", root / "arts", root / "arts" / artifact.name,
                     root / "golden", root / "bundle", root / "report", root / "records.json", root / "recipe.toml",
                     root / "notes", root / "mine.txt", root / "a-file", root / "bundle-out.zip", root / "fresh")


@pytest.fixture
def no_work(monkeypatch):
    """Every heavy entry point raises WorkStarted."""
    def work_started(*args, **kwargs):
        raise WorkStarted("work started")

    for target in ("edgevit.training.train.import_keras", "edgevit.exporters.jobs._run_child", "edgevit.verify.run.runner_for",
                   "edgevit.bench.run.bench_artifacts", "edgevit.data.synth.write_synthetic_birds",
                   "edgevit.savedmodel.importing._load", "edgevit.weights.import_weights",
                   "edgevit.verify.layers.run.layer_parity"):
        monkeypatch.setattr(target, work_started)


def _put_back(root: Path, before: dict[str, str]) -> None:
    """Remove what an accepted example added (deepest first), so the next one starts from the same tree."""
    for name in sorted(set(tree_hash(root)) - set(before), key=lambda n: n.count("/"), reverse=True):
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _run(argv: list[str]) -> tuple[int | None, bool]:
    """(exit code, whether the work started)."""
    try:
        return main(argv), False
    except WorkStarted:
        return None, True


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name, digest in before.items() if after.get(name) != digest)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_outputs_pointed_at_inputs_and_at_each_other_change_no_byte(workspace, no_work, capsys, data):
    case = data.draw(cases(workspace), label="case")
    event(case.slot.name)  # --hypothesis-show-statistics shows how the examples spread over options and targets
    event(case.target)
    before = tree_hash(workspace.root)
    code, started = _run(case.argv)
    err = capsys.readouterr().err
    after = tree_hash(workspace.root)
    try:
        assert "Traceback" not in err, err
        assert _changed(before, after) == [], (case.target, case.argv, err)
        if case.legitimate:
            expected_end = 0 if case.slot.runs_to_the_end else None
            assert (code, started) == (expected_end, not case.slot.runs_to_the_end), (case.slot.name, case.argv, err)
        else:
            lines = err.strip().splitlines()
            assert not started, f"{case.slot.name}: {case.target} was not refused before the work started: {case.argv}"
            assert code not in (0, INTERNAL_ERROR_EXIT), (case.target, case.argv, err)
            assert len(lines) == 1 and lines[0].startswith("edgevit: error: "), (case.target, case.argv, err)
            assert after == before, (case.target, case.argv, "added", sorted(set(after) - set(before)))
    finally:
        _put_back(workspace.root, before)
    assert tree_hash(workspace.root) == before


# Commands with no output option to draw: what each one writes instead.
NO_OUTPUT_OPTION = {"savedmodel": "RUN/saved_model, inside the training run it reads"}


def test_every_command_has_its_output_options_drawn():
    """The category grows with the CLI: a new command either gets its output options drawn above or says why not."""
    from edgevit.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert set(commands) == {slot.name.split()[0] for slot in SLOTS} | set(NO_OUTPUT_OPTION)
