"""Formats, quantization modes and runtimes are named in edgevit/formats.py and nowhere else by string literal.

The scan reads every module under edgevit/ with `ast` and looks at string constants only: docstrings,
other bare string statements and comments are prose and may mention formats. It looks for

- every format value, `<format>-<quantization>` artifact name and runtime name of the table, in every
  module: none of them is a word of another vocabulary that edgevit uses;
- every bare quantization value (fp32, dynamic, int8, ...) in the code that handles artifacts, which
  is every module but the few in OTHER_VOCABULARIES: there the same strings name the training compute
  precision or the dtype of a GEMM peak, not a quantization mode.

A value may appear in its own homes: edgevit/formats.py, the exporter and runner modules the table and
EXPORTERS point at (and their helper modules in HELPERS), each for its own format only, and the
device harness's runtime table (portable/ is copied onto devices and cannot import edgevit).
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

from edgevit.exporters import EXPORTERS
from edgevit.formats import FORMATS, MODES, RUNTIMES, Format

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "edgevit"

# Where the same strings mean something else: path pattern -> what they name there.
OTHER_VOCABULARIES = {
    "edgevit/training/*": "the training compute precision (fp32 | bf16 | fp16)",
    "edgevit/commands/train.py": "the choices of `edgevit train --precision`",
    "edgevit/config.py": "TrainConfig.precision",
    "edgevit/bench/peak.py": "the dtype of a GEMM peak (float32 | int8)",
    "edgevit/report/markdown.py": "the short label of a GEMM peak's dtype",
}
# Modules that belong to one format without being named in the table: path pattern -> formats.
HELPERS = {
    "edgevit/exporters/tflite_file.py": (Format.TFLITE,),  # the .tflite flatbuffer reader/writer of exporters/tflite.py
    "edgevit/runners/mil/*": (Format.COREML,),  # the Core ML program interpreter of runners/coreml_mil.py
    # The harness cannot import edgevit.formats: its runtime table names its own formats and runtimes.
    "edgevit/portable/runtimes.py": (Format.TFLITE, Format.ONNX),
}


def _module_path(dotted: str) -> str:
    return dotted.split(":")[0].replace(".", "/") + ".py"


def home_formats() -> dict[str, tuple[Format, ...]]:
    """Path pattern -> the formats whose names it may spell."""
    homes: dict[str, tuple[Format, ...]] = {"edgevit/formats.py": tuple(Format), **HELPERS}
    for fmt, target in EXPORTERS.items():
        homes[_module_path(target)] = homes.get(_module_path(target), ()) + (fmt,)
    for runtime in RUNTIMES.values():
        homes[_module_path(runtime.runner)] = homes.get(_module_path(runtime.runner), ()) + (runtime.format,)
    return homes


def names_of(fmt: Format) -> tuple[set[str], set[str]]:
    """(names scanned everywhere, bare quantization values) that belong to `fmt`."""
    spec = FORMATS[fmt]
    everywhere = {fmt.value} | {r.name.value for r in spec.runtimes}
    everywhere |= {mode.artifact_name for mode in MODES.values() if mode.format is fmt}
    return everywhere, {q.value for q in spec.quantization}


def _matches(path: str, patterns) -> list[str]:
    return [p for p in patterns if fnmatch.fnmatch(path, p)]


def string_constants(source: str) -> list[tuple[int, str]]:
    """(line, value) of every string constant that is not a docstring or another bare string statement."""
    tree = ast.parse(source)
    prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose]


def violations(path: str, source: str) -> list[str]:
    """`path:line: 'value'` for each format, mode or runtime named outside its homes; `path` is relative to the repo."""
    homes = home_formats()
    own = {fmt for pattern in _matches(path, homes) for fmt in homes[pattern]}
    other_vocabulary = bool(_matches(path, OTHER_VOCABULARIES))
    owners: dict[str, set[Format]] = {}
    for fmt in Format:
        everywhere, quantizations = names_of(fmt)
        for value in everywhere | (set() if other_vocabulary else quantizations):
            owners.setdefault(value, set()).add(fmt)
    return [f"{path}:{line}: {value!r}" for line, value in sorted(string_constants(source))
            if value in owners and not owners[value] & own]


def test_no_format_mode_or_runtime_is_spelled_outside_its_homes():
    found = []
    for file in sorted(PACKAGE.rglob("*.py")):
        found += violations(file.relative_to(REPO).as_posix(), file.read_text(encoding="utf-8"))
    assert not found, "name these through edgevit.formats (its enums and lookups) instead:\n" + "\n".join(found)


def test_the_scan_catches_each_kind_of_name():
    source = 'NAME = "onnx-fp32"\nFMT = {"format": "tflite"}\nRUNTIME = f"{1}" + "coreml-mil-numpy"\nMODE = ("int8-dynamic",)\n'
    assert violations("edgevit/verify/run.py", source) == [
        "edgevit/verify/run.py:1: 'onnx-fp32'",
        "edgevit/verify/run.py:2: 'tflite'",
        "edgevit/verify/run.py:3: 'coreml-mil-numpy'",
        "edgevit/verify/run.py:4: 'int8-dynamic'",
    ]


def test_prose_and_other_words_pass():
    source = '"""Exports to tflite."""\n\ndef f():\n    """onnx-fp32 is the default."""\n    return "exported to tflite"  # "onnx"\n'
    assert violations("edgevit/verify/run.py", source) == []


def test_homes_spell_their_own_format_only():
    # An exporter names its own format and modes; another format's, or a runtime of another format, is a violation.
    assert violations("edgevit/exporters/coreml.py", 'A = "coreml"\nB = "palettize4"\nC = "fp16"\n') == []
    assert violations("edgevit/exporters/coreml.py", 'A = "tflite"\nB = "int8-dynamic"\nC = "litert"\n') == [
        "edgevit/exporters/coreml.py:1: 'tflite'",
        "edgevit/exporters/coreml.py:2: 'int8-dynamic'",
        "edgevit/exporters/coreml.py:3: 'litert'",
    ]
    assert violations("edgevit/runners/mil/ops.py", 'A = "coreml"\n') == []
    assert violations("edgevit/portable/main.py", 'A = "onnxruntime"\n') == ["edgevit/portable/main.py:1: 'onnxruntime'"]


def test_other_vocabularies_keep_their_words_but_not_format_names():
    # Training's "fp16" is a compute precision; "tflite" there would still be a format.
    assert violations("edgevit/training/precision.py", 'A = "fp16"\nB = "bf16"\n') == []
    assert violations("edgevit/training/precision.py", 'A = "tflite"\n') == ["edgevit/training/precision.py:1: 'tflite'"]
    assert violations("edgevit/bench/run.py", 'A = "int8"\n') == ["edgevit/bench/run.py:1: 'int8'"]


def test_every_table_module_is_a_home():
    homes = home_formats()
    assert homes["edgevit/formats.py"] == tuple(Format)
    assert homes["edgevit/exporters/onnx.py"] == (Format.ONNX,)
    assert homes["edgevit/runners/coreml_mil.py"] == (Format.COREML,)
    assert homes["edgevit/runners/savedmodel.py"] == (Format.SAVEDMODEL,)
    for pattern in homes:  # no stale entry: each names a module that exists
        assert list(REPO.glob(pattern)), pattern
