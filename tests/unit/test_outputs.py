"""edgevit.outputs: the one rule for every path edgevit writes, on plain folders and files (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevit import outputs
from edgevit.errors import UsageError
from edgevit.outputs import (ARTIFACT, ARTIFACTS_ROOT, GOLDEN, RECORDS, REPORT, RUN, VERIFY_JSON, Output, check_outputs,
                             remove_dir, replace_dir)


def _golden(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "golden.json").write_text(json.dumps({"inputs_file": "inputs.f32", "outputs_file": "probabilities.f32"}))
    (folder / "inputs.f32").write_bytes(b"\0" * 8)
    (folder / "probabilities.f32").write_bytes(b"\0" * 8)
    return folder


def _refused(outputs_, inputs=(), words=""):
    with pytest.raises(UsageError) as caught:
        check_outputs(outputs_, inputs=inputs)
    message = str(caught.value)
    assert "\n" not in message and words in message, message
    return message


def test_the_index_file_names_agree_with_their_writers():
    from edgevit.device.ios import SYNC_INDEX
    from edgevit.exporters.jobs import INDEX_NAME, LOGS_DIR
    from edgevit.training.train import STATE_NAME

    assert (outputs.SYNC_INDEX, outputs.ARTIFACTS_INDEX, outputs.LOGS_DIR, outputs.RUN_INDEX) == (SYNC_INDEX, INDEX_NAME, LOGS_DIR, STATE_NAME)


def test_new_empty_and_same_kind_folders_are_accepted(tmp_path):
    (tmp_path / "empty").mkdir()
    check_outputs([Output("--a", tmp_path / "new" / "deeper", GOLDEN), Output("--b", tmp_path / "empty", GOLDEN),
                   Output("--c", _golden(tmp_path / "earlier"), GOLDEN)])


def test_a_folder_of_another_kind_or_with_a_stray_file_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_state.json").write_text("{}")
    _refused([Output("--write-golden", run, GOLDEN)], words="not a golden vectors folder")
    golden = _golden(tmp_path / "golden")
    (golden / "notes.txt").write_text("mine")
    _refused([Output("--write-golden", golden, GOLDEN)], words="notes.txt")
    # Writing into a folder (not replacing it) leaves the stray alone, so it is allowed there.
    (run / "notes.txt").write_text("mine")
    check_outputs([Output("--out", run, RUN, replace=False)])
    _refused([Output(None, run, RUN)], words="notes.txt")


def test_files_are_replaced_only_by_a_file_of_their_kind(tmp_path):
    records = tmp_path / "records.json"
    records.write_text(json.dumps({"schema_version": 1, "records": []}))
    check_outputs([Output("--out", records, RECORDS)])
    _refused([Output("--json", records, VERIFY_JSON)], words="is not a verify results file")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"kind": "artifact"}))
    _refused([Output("--out", manifest, RECORDS)], words="is not a records file")
    _refused([Output("--records", tmp_path, RECORDS)], words="is a folder")


def test_outputs_never_touch_inputs_or_each_other(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    _refused([Output("--out", model, ARTIFACTS_ROOT)], inputs=[model], words="is the input")
    _refused([Output("--out", model / "variables", ARTIFACT)], inputs=[model], words="is inside the input")
    _refused([Output("--out", tmp_path, REPORT)], inputs=[model], words="holds the input")
    _refused([Output("--json", tmp_path / "x.json", VERIFY_JSON), Output("--records", tmp_path / "x.json", RECORDS)],
             words="same path")
    _refused([Output("--write-golden", tmp_path / "g", GOLDEN), Output("--json", tmp_path / "g" / "x.json", VERIFY_JSON)],
             words="one holds the other")


def test_unwritable_places_are_found_first(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _refused([Output("--out", blocker / "out" / "records.json", RECORDS)], words="is a file, not a folder")
    _refused([Output("--out", blocker, GOLDEN)], words="is a file, not a folder")
    _refused([Output("--json", Path("/proc/edgevit-test/x.json"), VERIFY_JSON)], words="cannot write")
    assert blocker.read_text() == "not a folder"


def test_replace_dir_replaces_an_earlier_folder_and_nothing_else(tmp_path):
    golden = _golden(tmp_path / "golden")
    with replace_dir(golden, GOLDEN) as tmp:
        (tmp / "golden.json").write_text(json.dumps({"inputs_file": "a", "outputs_file": "b"}))
    assert sorted(p.name for p in golden.iterdir()) == ["golden.json"]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("mine")
    with pytest.raises(UsageError):
        with replace_dir(notes, GOLDEN):
            pytest.fail("the body must not run")
    with pytest.raises(UsageError):
        remove_dir(notes, ARTIFACTS_ROOT)
    assert (notes / "thesis.txt").read_text() == "mine"
