"""Reading the iOS app's Swift sources with a tree-sitter Swift grammar (Swift cannot be compiled here).

Two checks build on it:
- syntax: every .swift file parses with no ERROR or MISSING node;
- JSON contracts: each Swift type that reads or writes edgevit JSON carries a `// json: PATH` comment
  and a `CodingKeys` enum whose raw values are the JSON keys. PATH names where those keys live:
  `manifest`, `golden`, `sync`, `gate` (files edgevit writes; `x.y` a nested object, `x.*` every value
  of a dictionary, `x[]` every item of a list) or `record`, `records-file` (the record schema the app
  writes). Readers' keys must exist in files edgevit really wrote; writers' keys must be schema
  properties, and every key the schema requires must be written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IOS_DEMO = REPO / "ios_demo"
WRITER_ROOTS = {"record": ("$defs", "record"), "records-file": ()}
_MARKER = re.compile(r"^//\s*json:\s*(.+?)\s*$")


@lru_cache(maxsize=1)
def swift_parser():
    import tree_sitter
    import tree_sitter_swift

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))


def swift_files() -> list[Path]:
    return sorted(IOS_DEMO.rglob("*.swift"))


def syntax_errors(source: bytes) -> list[str]:
    """'line:col: ERROR near ...' for every ERROR or MISSING node (empty when the file parses cleanly)."""
    tree = swift_parser().parse(source)
    problems: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            kind = "ERROR" if node.is_error else f"MISSING {node.type}"
            snippet = source[node.start_byte : node.end_byte][:40].decode(errors="replace")
            problems.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1}: {kind} near {snippet!r}")
        stack.extend(node.children)
    return sorted(problems)


def null_writing(source: bytes) -> list[str]:
    """'line: what' for each hand-written `encode(to:)` and each `encodeNil` in the code (comments ignored).

    The app writes JSON null in one place (NullEncoded.swift); a hand-written encode(to:) elsewhere is
    how the duplicated null-writing bodies used to look, so both are reported.
    """
    tree = swift_parser().parse(source)
    found: list[tuple[int, str]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        line = node.start_point[0] + 1
        if node.type == "function_declaration":
            name = next((c for c in node.children if c.type == "simple_identifier"), None)
            first = next((c for c in node.children if c.type == "parameter"), None)
            label = next((c for c in first.children if c.type == "simple_identifier"), None) if first else None
            if name is not None and label is not None and _text(name, source) == "encode" and _text(label, source) == "to":
                found.append((line, "hand-written encode(to:)"))
        elif node.type == "simple_identifier" and _text(node, source) == "encodeNil":
            found.append((line, "encodeNil"))
        stack.extend(node.children)
    return [f"{line}: {what}" for line, what in sorted(found)]


@dataclass(frozen=True)
class Contract:
    """One Swift type's JSON keys: `keys` maps the Swift case name to its JSON key."""

    type_name: str
    paths: tuple[str, ...]
    keys: dict
    where: str  # file:line
    spans: dict  # JSON key -> (start, end) byte offsets of its string literal (None when implicit)


def _text(node, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode()


def _coding_keys(body, source: bytes) -> tuple[dict, dict] | None:
    for child in body.children:
        if child.type != "class_declaration":
            continue
        names = [c for c in child.children if c.type == "type_identifier"]
        if not names or _text(names[0], source) != "CodingKeys":
            continue
        keys, spans = {}, {}
        for enum_body in (c for c in child.children if c.type == "enum_class_body"):
            for entry in (c for c in enum_body.children if c.type == "enum_entry"):
                parts = [c for c in entry.children if c.type in ("simple_identifier", "line_string_literal")]
                for i, part in enumerate(parts):
                    if part.type != "simple_identifier":
                        continue
                    raw = parts[i + 1] if i + 1 < len(parts) and parts[i + 1].type == "line_string_literal" else None
                    json_key = _text(raw, source)[1:-1] if raw is not None else _text(part, source)
                    keys[_text(part, source)] = json_key
                    spans[json_key] = (raw.start_byte + 1, raw.end_byte - 1) if raw is not None else None
        return keys, spans
    return None


def contracts_in(source: bytes, filename: str) -> tuple[list[Contract], list[str]]:
    """The contracts a Swift file declares, and problems (a CodingKeys type without a marker or vice versa)."""
    tree = swift_parser().parse(source)
    contracts, problems = [], []
    children = tree.root_node.children
    for i, node in enumerate(children):
        if node.type != "class_declaration":
            continue
        names = [c for c in node.children if c.type == "type_identifier"]
        body = next((c for c in node.children if c.type in ("class_body", "enum_class_body")), None)
        if not names or body is None:
            continue
        name = _text(names[0], source)
        marker = None
        j = i - 1
        while j >= 0 and children[j].type == "comment":
            match = _MARKER.match(_text(children[j], source))
            if match:
                marker = match.group(1)
            j -= 1
        found = _coding_keys(body, source)
        keys, spans = found if found is not None else (None, None)
        where = f"{filename}:{node.start_point[0] + 1}"
        if keys is not None and marker is None:
            problems.append(f"{where}: {name} has CodingKeys but no `// json: PATH` comment above it")
        elif marker is not None and keys is None:
            problems.append(f"{where}: {name} has a `// json:` comment but no CodingKeys enum")
        elif marker is not None:
            paths = tuple(p.strip() for p in marker.split(","))
            contracts.append(Contract(type_name=name, paths=paths, keys=keys, where=where, spans=spans))
    return contracts, problems


def all_contracts(sources: dict[str, bytes] | None = None) -> tuple[list[Contract], list[str]]:
    if sources is None:
        sources = {p.relative_to(IOS_DEMO).as_posix(): p.read_bytes() for p in swift_files()}
    contracts, problems = [], []
    for name, source in sorted(sources.items()):
        found, issues = contracts_in(source, name)
        contracts += found
        problems += issues
    return contracts, problems


def _split(path: str) -> tuple[str, list[str]]:
    """'record.machine.accelerators[]' -> ('record', ['machine', 'accelerators', '[]'])."""
    head, *rest = path.split(".")
    steps: list[str] = []
    for part in rest:
        if part.endswith("[]"):
            steps += [part[:-2], "[]"]
        else:
            steps.append(part)
    return head, steps


def json_objects(document, steps: list[str]) -> list:
    """Every JSON object at `steps` under `document` ('*': each dict value, '[]': each list item)."""
    nodes = [document]
    for step in steps:
        following = []
        for node in nodes:
            if step == "*" and isinstance(node, dict):
                following += list(node.values())
            elif step == "[]" and isinstance(node, list):
                following += node
            elif isinstance(node, dict) and isinstance(node.get(step), (dict, list)):
                following.append(node[step])
        nodes = following
    return [n for n in nodes if isinstance(n, dict)]


def check_readers(contracts: list[Contract], documents: dict[str, dict]) -> list[str]:
    """Keys Swift reads that the Python-written documents lack (documents: root name -> parsed JSON)."""
    problems = []
    for contract in contracts:
        for path in contract.paths:
            root, steps = _split(path)
            if root in WRITER_ROOTS:
                continue
            if root not in documents:
                problems.append(f"{contract.where}: {contract.type_name} names unknown JSON root {root!r} (known: "
                                f"{', '.join(sorted([*documents, *WRITER_ROOTS]))})")
                continue
            objects = json_objects(documents[root], steps)
            if not objects:
                problems.append(f"{contract.where}: {contract.type_name}: no JSON object at {path} in the file edgevit wrote")
            for obj in objects:
                for json_key in contract.keys.values():
                    if json_key not in obj:
                        problems.append(f"{contract.where}: {contract.type_name} reads '{json_key}' at {path}, "
                                        f"which edgevit does not write (it writes: {', '.join(sorted(obj))})")
    return sorted(set(problems))


def schema_node(schema: dict, root: str, steps: list[str]) -> dict | None:
    """The object schema at `steps` from a writer root, following $ref, oneOf (non-null branch) and items."""

    def deref(node):
        while True:
            if "$ref" in node:
                target = schema
                for part in node["$ref"][2:].split("/"):
                    target = target[part]
                node = target
            elif "oneOf" in node:
                branches = [b for b in node["oneOf"] if b != {"type": "null"}]
                if len(branches) != 1:
                    return None
                node = branches[0]
            else:
                return node

    node = schema
    for part in WRITER_ROOTS[root]:
        node = node[part]
    node = deref(node)
    for step in steps:
        if node is None:
            return None
        if step == "[]":
            node = deref(node.get("items", {}))
        else:
            child = node.get("properties", {}).get(step)
            node = deref(child) if child is not None else None
    return node


def check_writers(contracts: list[Contract], schema: dict) -> list[str]:
    """Keys Swift writes that the record schema does not define, and keys the schema requires that Swift omits."""
    problems = []
    for contract in contracts:
        for path in contract.paths:
            root, steps = _split(path)
            if root not in WRITER_ROOTS:
                continue
            node = schema_node(schema, root, steps)
            if node is None or "properties" not in node:
                problems.append(f"{contract.where}: {contract.type_name}: the record schema has no object at {path}")
                continue
            written = set(contract.keys.values())
            for key in sorted(written - set(node["properties"])):
                problems.append(f"{contract.where}: {contract.type_name} writes '{key}' at {path}, not in the record schema "
                                f"(it defines: {', '.join(sorted(node['properties']))})")
            for key in sorted(set(node.get("required", ())) - written):
                problems.append(f"{contract.where}: {contract.type_name} never writes '{key}', which the schema requires at {path}")
    return sorted(set(problems))


def _strip_comments(text: str) -> str:
    return re.sub(r"^//.*$", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S), flags=re.M)


def parse_pbxproj(text: str):
    """An Xcode project file (an old-style OpenStep property list) -> dicts, lists and strings."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[{}()=;,]|[^\s{}()=;,"]+', _strip_comments(text))
    position = 0

    def value():
        nonlocal position
        token = tokens[position]
        position += 1
        if token == "{":
            result = {}
            while tokens[position] != "}":
                key = value()
                assert tokens[position] == "=", f"expected '=' after {key!r}"
                position += 1
                result[key] = value()
                assert tokens[position] == ";", f"expected ';' after {key!r}"
                position += 1
            position += 1
            return result
        if token == "(":
            items = []
            while tokens[position] != ")":
                items.append(value())
                if tokens[position] == ",":
                    position += 1
            position += 1
            return items
        if token.startswith('"'):
            return bytes(token[1:-1], "utf-8").decode("unicode_escape")
        assert token not in "{}()=;,", f"unexpected {token!r}"
        return token

    document = value()
    assert position == len(tokens), "trailing text after the project's closing brace"
    return document
