"""Every JSON key the Swift app reads is one edgevit writes, and every key it writes is in the record schema.

The keys come from the Swift sources themselves (CodingKeys raw values, located by tree-sitter); the
JSON comes from files edgevit really wrote for the tiny model (artifact manifest, golden vectors,
ios-sync's sync.json and gate.json) and from edgevit/schemas/record-v1.schema.json. The rename tests
show the check fails when any single key is renamed on either side.

Two checks keep each concept in one Swift type: JSON null is written only by the shared @NullEncoded
helper (no hand-written encode(to:) elsewhere), and the model-cost keys are declared by ModelCost alone.
"""

from __future__ import annotations

import copy
import json

import pytest

from helpers.ios import (IOS_DEMO, WRITER_ROOTS, _split, all_contracts, check_readers, check_writers, json_objects, null_writing,
                         schema_node, swift_files)
from edgevit.records import schema as record_schema

READER_ROOTS = ("manifest", "golden", "sync", "gate")
NULL_HELPER = "EdgeViTDemo/NullEncoded.swift"
# Keys only the model-cost block has (image_size and num_classes are in golden.json too).
MODEL_COST_KEYS = {"macs_per_image", "flops_per_image", "params"}


@pytest.fixture(scope="module")
def documents(tiny_tflite_and_golden, tmp_path_factory):
    from edgevit.device.ios import ios_sync

    artifact, golden = tiny_tflite_and_golden
    models = tmp_path_factory.mktemp("ios") / "Models"
    ios_sync(artifacts=[artifact], golden=golden, models_dir=models)
    return {
        "manifest": json.loads((artifact / "manifest.json").read_text()),
        "golden": json.loads((golden / "golden.json").read_text()),
        "sync": json.loads((models / "sync.json").read_text()),
        "gate": json.loads((models / "tflite" / "gate.json").read_text()),
    }


@pytest.fixture(scope="module")
def contracts():
    found, problems = all_contracts()
    assert problems == []
    return found


def _sources():
    return {p.relative_to(IOS_DEMO).as_posix(): p.read_bytes() for p in swift_files()}


def test_every_json_file_and_the_record_have_swift_contracts(contracts):
    roots = {_split(path)[0] for c in contracts for path in c.paths}
    assert roots == set(READER_ROOTS) | set(WRITER_ROOTS)
    read = {c.keys[k] for c in contracts for p in c.paths if p == "manifest" for k in c.keys}
    assert {"file", "sha256", "input", "preprocessing", "labels", "quantization"} <= read
    pre = next(c for c in contracts if "manifest.preprocessing" in c.paths)
    assert set(pre.keys.values()) == {"height", "width", "resize", "color", "layout", "mean", "std"}


def test_swift_reads_only_keys_edgevit_writes(contracts, documents):
    assert check_readers(contracts, documents) == []


def test_swift_writes_the_record_schema(contracts):
    assert check_writers(contracts, record_schema()) == []


def test_a_key_renamed_on_the_python_side_is_caught(contracts, documents):
    checked = 0
    for contract in contracts:
        for path in contract.paths:
            root, steps = _split(path)
            if root not in READER_ROOTS:
                continue
            for key in contract.keys.values():
                renamed = copy.deepcopy(documents)
                for obj in json_objects(renamed[root], steps):
                    obj[key + "_renamed"] = obj.pop(key)
                problems = check_readers(contracts, renamed)
                assert any(f"reads '{key}' at {path}" in p for p in problems), (path, key)
                checked += 1
    assert checked == sum(len(c.keys) for c in contracts for p in c.paths if _split(p)[0] in READER_ROOTS) > 40


def test_a_key_renamed_in_the_schema_is_caught(contracts):
    checked = 0
    for contract in contracts:
        for path in contract.paths:
            root, steps = _split(path)
            if root not in WRITER_ROOTS:
                continue
            for key in contract.keys.values():
                schema = copy.deepcopy(record_schema())
                node = schema_node(schema, root, steps)
                node["properties"][key + "_renamed"] = node["properties"].pop(key)
                problems = check_writers(contracts, schema)
                assert any(f"writes '{key}' at {path}, not in the record schema" in p for p in problems), (path, key)
                checked += 1
    assert checked == sum(len(c.keys) for c in contracts for p in c.paths if _split(p)[0] in WRITER_ROOTS) > 80


def test_a_key_renamed_on_the_swift_side_is_caught(contracts, documents):
    sources = _sources()
    checked = 0
    for contract in contracts:
        filename = contract.where.split(":")[0]
        for key, span in contract.spans.items():
            assert span is not None, f"{contract.where}: {contract.type_name}'s CodingKeys case for {key!r} needs an explicit raw value"
            start, end = span
            source = sources[filename]
            mutated = {**sources, filename: source[:start] + (key + "_renamed").encode() + source[end:]}
            found, problems = all_contracts(mutated)
            assert problems == []
            reader = check_readers(found, documents)
            writer = check_writers(found, record_schema())
            assert any(f"'{key}_renamed'" in p for p in reader + writer), (contract.type_name, key)
            checked += 1
    assert checked == sum(len(c.keys) for c in contracts) > 130


def test_a_contract_without_its_json_comment_is_reported():
    source = b'struct Orphan: Decodable {\n    let a: Int\n    enum CodingKeys: String, CodingKey {\n        case a = "a"\n    }\n}\n'
    found, problems = all_contracts({"Orphan.swift": source})
    assert found == [] and problems == ["Orphan.swift:1: Orphan has CodingKeys but no `// json: PATH` comment above it"]


def test_only_the_shared_helper_writes_null():
    sources = _sources()
    assert null_writing(sources[NULL_HELPER]) != []
    elsewhere = {name: found for name, source in sources.items() if name != NULL_HELPER and (found := null_writing(source))}
    assert elsewhere == {}, f"declare optionals `@NullEncoded var x: T?` ({NULL_HELPER}) instead of writing null by hand"


def test_the_null_check_finds_a_hand_written_body_but_not_a_comment():
    source = (b"// encode(to:) and encodeNil, named in a comment\n"
              b"struct A: Encodable {\n"
              b"    let x: Int?\n"
              b"    func encode(to encoder: Encoder) throws {\n"
              b"        var c = encoder.container(keyedBy: CodingKeys.self)\n"
              b"        try c.encodeNil(forKey: .x)\n"
              b"    }\n"
              b"    func encode(_ other: Int) {}\n"
              b"}\n")
    assert null_writing(source) == ["4: hand-written encode(to:)", "6: encodeNil"]


def _model_cost_owners(contracts):
    return [c for c in contracts if MODEL_COST_KEYS & set(c.keys.values())]


def test_one_type_reads_and_writes_the_model_cost(contracts):
    (owner,) = _model_cost_owners(contracts)
    assert owner.type_name == "ModelCost" and set(owner.paths) == {"sync.model", "record.model"}
    assert set(owner.keys.values()) >= set(record_schema()["$defs"]["model"]["required"])


def test_a_second_model_cost_type_is_caught():
    copy_of_it = (b"// json: record.model\n"
                  b"struct ModelInfo: Encodable {\n"
                  b"    let macsPerImage: Int?\n"
                  b"    enum CodingKeys: String, CodingKey {\n"
                  b"        case macsPerImage = \"macs_per_image\"\n"
                  b"    }\n"
                  b"}\n")
    found, problems = all_contracts({**_sources(), "EdgeViTDemo/ModelInfo.swift": copy_of_it})
    assert problems == []
    assert sorted(c.type_name for c in _model_cost_owners(found)) == ["ModelCost", "ModelInfo"]


@pytest.mark.slow
def test_swift_reads_only_keys_the_core_ml_manifest_has(tiny_run, contracts, documents, tmp_path):
    """The Core ML artifact's manifest (its output block differs) satisfies the same reader."""
    from edgevit.exporters.coreml import export_coreml

    artifact = export_coreml(saved_model=tiny_run.saved_model, out_dir=tmp_path)
    assert check_readers(contracts, {**documents, "manifest": json.loads((artifact / "manifest.json").read_text())}) == []
