"""Every JSON file edgevit reads goes through one loader (edgevit.portable.files.load_json): a bad or
absurdly nested file is one line naming the file, on the host and on the device alike."""

from __future__ import annotations

import pytest

from edgevit.errors import DataError, ModelError
from edgevit.manifest import read_manifest
from edgevit.portable.errors import HarnessError
from edgevit.portable.files import BadJson, load_json, read_json
from edgevit.records import read_records

DEEP = "[" * 200_000 + "]" * 200_000


def test_load_json_parses_and_names_what_is_wrong(tmp_path):
    (tmp_path / "ok.json").write_text('{"a": [1, 2]}')
    assert load_json(tmp_path / "ok.json") == {"a": [1, 2]}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BadJson, match=r"^not valid JSON \(Expecting property name"):
        load_json(tmp_path / "bad.json")
    (tmp_path / "latin1.json").write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(BadJson, match=r"^not valid JSON \('utf-8' codec"):
        load_json(tmp_path / "latin1.json")
    (tmp_path / "deep.json").write_text(DEEP)
    with pytest.raises(BadJson, match=r"^not valid JSON \(nested too deeply to read\)$"):
        load_json(tmp_path / "deep.json")
    with pytest.raises(FileNotFoundError):
        load_json(tmp_path / "missing.json")


def test_load_json_refuses_a_file_larger_than_any_edgevit_writes_without_reading_it(tmp_path, monkeypatch):
    import edgevit.portable.files as files

    monkeypatch.setattr(files, "MAX_JSON_BYTES", 1000)
    (tmp_path / "small.json").write_text("[" + "1," * 400 + "1]")  # 803 bytes
    assert len(load_json(tmp_path / "small.json")) == 401
    (tmp_path / "huge.json").write_text("[" + "1," * 600 + "1]")  # 1,203 bytes
    monkeypatch.setattr(type(tmp_path), "read_text", lambda *a, **k: pytest.fail("read a file over the limit"))
    with pytest.raises(BadJson, match=r"^not a JSON file edgevit wrote \(1,203 bytes; edgevit reads at most 1,000\)$"):
        load_json(tmp_path / "huge.json")


def test_deeply_nested_manifest_records_and_bundle_index_are_one_error_naming_the_file(tmp_path):
    (tmp_path / "manifest.json").write_text(DEEP)
    with pytest.raises(ModelError) as manifest_error:
        read_manifest(tmp_path)
    assert str(manifest_error.value) == f"{tmp_path / 'manifest.json'}: not valid JSON (nested too deeply to read); re-create it with edgevit"

    (tmp_path / "records.json").write_text(DEEP)
    with pytest.raises(DataError) as records_error:
        read_records([tmp_path / "records.json"])
    assert str(records_error.value) == f"{tmp_path / 'records.json'}: not valid JSON (nested too deeply to read); pass a records file"

    (tmp_path / "bundle.json").write_text(DEEP)
    with pytest.raises(HarnessError) as bundle_error:
        read_json(tmp_path / "bundle.json", "bundle.json")
    assert str(bundle_error.value) == (f"{tmp_path / 'bundle.json'}: bundle.json is not valid JSON (nested too deeply to read); "
                                       "re-create the bundle")
    assert bundle_error.value.exit_code == 4


def test_every_user_json_goes_through_the_loader_a_nested_training_state_is_one_line(tmp_path, capsys):
    """`train --resume` read train_state.json with json.loads, so a deeply nested one was an internal error (70)."""
    from edgevit.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / "train_state.json").write_text(DEEP)
    assert main(["train", str(tmp_path / "data"), "--out", str(out), "--resume", "--variant", "tiny"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"edgevit: error: {out / 'train_state.json'}: unreadable training state; start again without --resume in a new --out"]
