"""edgevit.compat: the published runtime-version tables and the lookups over them."""

from __future__ import annotations

import pytest

from edgevit.compat import (ONNXRUNTIME_RELEASES, TFLITE_OP_RUNTIMES, is_newer, oldest_onnxruntime, ops_needing_newer,
                            ops_not_in_table, parse_version, tflite_op_runtime)
from edgevit.errors import UsageError


def test_versions_parse_and_compare_as_numbers():
    assert parse_version("2.14") == (2, 14, 0) == parse_version(" 2.14.0 ")
    assert is_newer("2.17.0", "2.14") and not is_newer("2.9.0", "2.14") and not is_newer("2.14.0", "2.14")
    assert is_newer("2.10", "2.9.0")  # numbers, not strings: "2.10" < "2.9" as text
    assert parse_version("16") == (16, 0, 0)  # an iOS release
    for bad in ("2.x", "v2.14", "2.14.0.1", "", "2..1"):
        with pytest.raises(UsageError, match="is not a version like 2.14"):
            parse_version(bad)


def test_tflite_op_table_gives_the_runtime_of_each_op_version():
    # The two facts the reference case turned on: per-channel dynamic dense layers and GELU.
    assert tflite_op_runtime("FULLY_CONNECTED", 12) == "2.17.0"
    assert tflite_op_runtime("FULLY_CONNECTED", 9) == "2.3.0"
    assert tflite_op_runtime("GELU", 1) == "2.9.0"
    assert tflite_op_runtime("BROADCAST_TO", 1) is None  # never shipped
    assert tflite_op_runtime("FULLY_CONNECTED", 99) is None and tflite_op_runtime("NO_SUCH_OP", 1) is None
    # Each op's versions need a runtime no older than the version before.
    for op, runtimes in TFLITE_OP_RUNTIMES.items():
        known = [parse_version(r) for r in runtimes if r]
        assert known == sorted(known), op


def test_ops_a_runtime_lacks_are_named_with_what_they_need():
    ops = [("FULLY_CONNECTED", 12), ("GELU", 1), ("RESHAPE", 1), ("MYSTERY", 3)]
    assert ops_needing_newer(ops, "2.14") == [("FULLY_CONNECTED", 12, "2.17.0")]
    assert ops_needing_newer(ops, "2.8") == [("FULLY_CONNECTED", 12, "2.17.0"), ("GELU", 1, "2.9.0")]
    assert ops_needing_newer(ops, "2.17.0") == []
    assert ops_not_in_table(ops) == [("MYSTERY", 3)]


def test_oldest_onnxruntime_from_the_published_table():
    assert oldest_onnxruntime(ir_version=8, opset=17) == "1.12"  # what edgevit's default ONNX export is
    assert oldest_onnxruntime(ir_version=8, opset=13) == "1.9"  # opset 13 from 1.6, IR 8 from 1.9
    assert oldest_onnxruntime(ir_version=7, opset=13) == "1.6"
    assert oldest_onnxruntime(ir_version=8, opset=18) == "1.14"
    assert oldest_onnxruntime(ir_version=8, opset=17, ml_opset=4) == "1.17"
    assert oldest_onnxruntime(ir_version=11, opset=17) is None  # past the table's newest row: not guessed
    releases = [parse_version(r[0]) for r in ONNXRUNTIME_RELEASES]
    assert releases == sorted(releases)
