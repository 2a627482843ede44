"""Fuzzing the manifest reader and the command line: a correct result or one clear error line."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgevit import cli
from edgevit.commands import data as data_command
from edgevit.commands import demo as demo_command
from edgevit.commands import train as train_command
from edgevit.config import MANIFEST_NAME, MANIFEST_SCHEMA_VERSION
from edgevit.errors import EdgeVitError, ModelError
from edgevit.manifest import read_manifest

_fs = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
GOOD = {
    "schema_version": 1,
    "kind": "savedmodel",
    "input": {"name": "images", "shape": [None, 32, 32, 3], "dtype": "float32", "layout": "NHWC"},
    "output": {"name": "probabilities", "shape": [None, 2], "dtype": "float32"},
    "preprocessing": {"height": 32, "width": 32, "mean": [127.5] * 3, "std": [127.5] * 3, "resize": "bilinear", "color": "RGB", "layout": "NHWC"},
    "labels": ["ALBATROSS", "BARN OWL"],
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _read(tmp_path, text: str):
    (tmp_path / MANIFEST_NAME).write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        return read_manifest(tmp_path)
    except ModelError as exc:
        assert "\n" not in str(exc) and (MANIFEST_NAME in str(exc) or str(tmp_path) in str(exc))
        return None


def test_good_manifest_reads(tmp_path):
    assert _read(tmp_path, json.dumps(GOOD))["labels"] == GOOD["labels"]


@_fs
@given(text=st.text(max_size=200))
def test_random_text(tmp_path, text):
    _read(tmp_path, text)


@_fs
@given(key=st.sampled_from(sorted(GOOD)), value=json_values)
def test_one_key_replaced_by_anything(tmp_path, key, value):
    manifest = _read(tmp_path, json.dumps({**GOOD, key: value}))
    if manifest is not None and key == "labels":
        assert isinstance(value, list) and len(value) >= 2
    if manifest is not None and key == "schema_version":
        assert isinstance(value, int) and value <= MANIFEST_SCHEMA_VERSION


@pytest.mark.parametrize("version", [MANIFEST_SCHEMA_VERSION + 1, 99])
def test_newer_schema_version_says_upgrade(tmp_path, version):
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({**GOOD, "schema_version": version}))
    with pytest.raises(ModelError, match="newer than this edgevit understands.*upgrade edgevit"):
        read_manifest(tmp_path)


def test_binary_garbage(tmp_path):
    (tmp_path / MANIFEST_NAME).write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(ModelError, match="not valid JSON"):
        read_manifest(tmp_path)


WORDS = ["train", "data", "synth", "demo", "--out", "--variant", "--epochs", "--image-size", "--batch-size", "--lr",
         "--noise", "--patience", "--trainable-blocks", "--classes", "--per-class", "--resume", "--help-me", "-x", "tiny",
         "vit-l32", "-1", "0", "3", "1e9", "nan", "inf", "all", "", "--", "é", "\udcff"]


@_fs
@given(argv=st.lists(st.sampled_from(WORDS) | st.text(max_size=8), max_size=8))
def test_random_command_lines(monkeypatch, capsys, argv):
    """Parsing never crashes: either a command runs (here a recorder) or one usage line and exit 2."""
    ran = []
    # Each command module registers its function when the parser is built (in main), so patching it there is enough.
    for module, name in ((train_command, "cmd_train"), (demo_command, "cmd_demo"), (data_command, "cmd_data_synth")):
        monkeypatch.setattr(module, name, lambda args, name=name: ran.append(name) or 0)
    code = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    if ran:
        assert code == 0 and not err
    else:
        assert code != 0 and len(err) == 1 and err[0].startswith("edgevit: error: "), (argv, err)


def test_error_codes_are_distinct():
    codes = {cls.__name__: cls.exit_code for cls in [EdgeVitError, *EdgeVitError.__subclasses__()]}
    assert len(set(codes.values())) == len(codes), codes
