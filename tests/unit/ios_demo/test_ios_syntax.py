"""Every Swift file of ios_demo parses with the tree-sitter Swift grammar (Swift cannot be compiled here)."""

from __future__ import annotations

import pytest

from helpers.ios import IOS_DEMO, swift_files, syntax_errors

FILES = swift_files()


def test_the_app_sources_are_found():
    names = {p.name for p in FILES}
    assert {"EdgeViTDemoApp.swift", "TFLiteClassifier.swift", "CoreMLClassifier.swift", "BenchmarkRunner.swift",
            "ArtifactManifest.swift", "BenchRecord.swift"} <= names
    assert len(FILES) >= 15


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_swift_file_parses_without_error_or_missing_nodes(path):
    assert syntax_errors(path.read_bytes()) == []


BROKEN = {
    "unclosed brace": "struct A {\n    func f() {\n        let x = 1\n    \n}\n",
    "missing value": "let x = \nlet y = 2\n",
    "unterminated string": 'let s = "abc\nlet t = 1\n',
    "stray operator": "func f() -> Int { return 1 + * 2 }\n",
    "bad parameter list": "func f(a: Int b: Int) {}\n",
}


@pytest.mark.parametrize("snippet", BROKEN.values(), ids=BROKEN.keys())
def test_the_check_fails_on_broken_swift(snippet):
    assert syntax_errors(snippet.encode()) != []


def test_the_check_fails_when_a_real_file_loses_a_brace():
    source = (IOS_DEMO / "EdgeViTDemo" / "BenchmarkRunner.swift").read_bytes()
    cut = source.rindex(b"}")
    assert syntax_errors(source) == []
    assert syntax_errors(source[:cut] + source[cut + 1 :]) != []
