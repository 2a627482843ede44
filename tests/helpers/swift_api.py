"""Checks the iOS app's calls into TensorFlowLiteSwift, Core ML, Vision and AVFoundation against a committed list.

Swift cannot be compiled here, so the app's use of these frameworks is checked against ios_demo/api/*.json:
the symbols of each framework the app may use, as Swift declarations read from upstream (TensorFlowLiteSwift's
sources, Apple's documentation for the iOS 16 SDK), with the iOS version that introduced the later ones.

The app's sources are read with tree-sitter. A small type inference follows values from where their type is
known (a type annotation, a parameter, an initialiser or a framework member whose declared type is in the list,
`as?` casts, `for x in` over an array, `if let`/`guard let`, `case .x(let y)` patterns) and checks:
- every member used on a listed type (property, method with its argument labels, enum case, nested type,
  initialiser with its labels) is in the list, inherited members included;
- an implicit member (`.float32`) is checked against the type the context gives it: a `switch` subject,
  the other side of `==`/`!=`, the left side of an assignment, a parameter's declared type;
- a member the list marks `ios: N` later than the deployment target is used under `if #available(iOS N, *)`;
- a method an app type declares for a listed protocol it conforms to has that protocol's labels (a delegate
  method with a wrong label compiles and is silently never called);
- an identifier that looks like Core ML, Vision or AVFoundation (ML*, VN*, AV* names) is a listed type;
  names the list says Swift does not see (`not_in_swift`, e.g. MLAllComputeDevices) are reported with why.
Values whose type cannot be inferred are not checked; `uses` lists what was, so tests can assert coverage.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from helpers.ios import IOS_DEMO, swift_parser

API_DIR = IOS_DEMO / "api"
DEPLOYMENT_TARGET = "16.0"
FRAMEWORK_PREFIX = re.compile(r"^(ML|VN|AV)[A-Z][A-Za-z0-9]*$")


# ---------------------------------------------------------------- the list


@dataclass(frozen=True)
class Param:
    label: str | None
    type: str
    has_default: bool
    variadic: bool


@dataclass(frozen=True)
class Member:
    owner: str
    name: str
    kind: str  # case | init | func | var
    static: bool
    type: str | None  # property type, function result, None for init/case/void
    params: tuple[Param, ...] | None  # init/func parameters, a case's associated values; None: not callable
    ios: str | None
    decl: str

    @property
    def signature(self) -> str:
        """`name`, `name(a:_:)` for callables: how the tests name a member."""
        if self.params is None:
            return self.name
        return f"{self.name}({''.join((p.label or '_') + ':' for p in self.params)})"


@dataclass
class ApiType:
    name: str
    kind: str
    module: str
    members: list[Member]
    inherits: list[str]
    ios: str | None
    source: str


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "([<{":
            depth += 1
        elif ch in ")]>}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts]


def _params(text: str, *, associated: bool = False) -> tuple[Param, ...]:
    params = []
    for part in _split_top(text):
        default = "=" in part and not part.strip().startswith("(")
        head = part.split("=")[0].strip() if default else part
        if ":" in head and not (associated and head.count(":") == 0):
            names, type_ = head.split(":", 1)
            words = names.split()
            label = None if words[0] == "_" else words[0]
        else:
            label, type_ = None, head
        type_ = type_.replace("@escaping", "").strip()
        params.append(Param(label=label, type=type_.rstrip(".").strip(), has_default=default, variadic=type_.endswith("...")))
    return tuple(params)


_CASE = re.compile(r"^case\s+(\w+)(?:\((.*)\))?$")
_FUNC = re.compile(r"^(static\s+|class\s+)?func\s+`?(\w+)`?\s*\((.*)\)\s*(async\s+)?(throws\s*)?(?:->\s*(.+))?$")
_INIT = re.compile(r"^(?:convenience\s+)?init(\??)\s*\((.*)\)\s*(throws)?$")
_VAR = re.compile(r"^(static\s+|class\s+)?(?:let|var)\s+(\w+)\s*:\s*(.+?)(?:\s*\{\s*get(?:\s+set)?\s*\})?$")


def parse_decl(owner: str, decl: str, ios: str | None) -> Member:
    decl = decl.strip()
    if m := _CASE.match(decl):
        params = _params(m.group(2), associated=True) if m.group(2) is not None else None
        return Member(owner, m.group(1), "case", True, None, params, ios, decl)
    if m := _FUNC.match(decl):
        return Member(owner, m.group(2), "func", bool(m.group(1)), (m.group(6) or "").strip() or None, _params(m.group(3)), ios, decl)
    if m := _INIT.match(decl):
        return Member(owner, "init", "init", True, None, _params(m.group(2)), ios, decl)
    if m := _VAR.match(decl):
        return Member(owner, m.group(2), "var", bool(m.group(1)), m.group(3).strip(), None, ios, decl)
    raise ValueError(f"{owner}: cannot read declaration {decl!r}")


@dataclass
class Api:
    types: dict[str, ApiType]
    modules: dict[str, set[str]]
    not_in_swift: dict[str, str]
    aliases: dict[str, str]
    files: dict[str, dict]

    def top_level(self, name: str) -> str | None:
        return name if name in self.types and "." not in name else None

    def resolve(self, text: str | None, context: str | None = None) -> str | None:
        """A declared type (as written in a declaration) -> a listed type name, `[T]`, or None."""
        if not text:
            return None
        text = text.strip().rstrip("?!").strip()
        if text.startswith("[") and text.endswith("]") and ":" not in text:
            inner = self.resolve(text[1:-1], context)
            return f"[{inner}]" if inner else None
        if text in self.aliases:
            return None
        scope = context
        while scope:
            if f"{scope}.{text}" in self.types:
                return f"{scope}.{text}"
            scope = scope.rpartition(".")[0] or None
        return text if text in self.types else None

    def lookup(self, type_name: str, name: str, *, static: bool | None = None) -> list[Member]:
        """Members named `name` of a listed type and the listed types it inherits from."""
        found, seen, queue = [], set(), [type_name]
        while queue:
            current = queue.pop(0)
            if current in seen or current not in self.types:
                continue
            seen.add(current)
            api_type = self.types[current]
            found += [m for m in api_type.members if m.name == name and (static is None or m.static == static or m.kind == "case")]
            queue += api_type.inherits
        return found


def load_api(folder: Path = API_DIR) -> Api:
    types, modules, not_in_swift, aliases, files = {}, {}, {}, {}, {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        files[path.name] = data
        module = data["module"]
        not_in_swift.update(data.get("not_in_swift", {}))
        aliases.update(data.get("aliases", {}))
        for name, spec in data["types"].items():
            members = []
            for entry in spec["members"]:
                decl, ios = (entry, None) if isinstance(entry, str) else (entry["decl"], entry.get("ios"))
                members.append(parse_decl(name, decl, ios))
            types[name] = ApiType(name=name, kind=spec["kind"], module=module, members=members, inherits=spec.get("inherits", []),
                                  ios=spec.get("ios"), source=path.name)
            modules.setdefault(module, set()).add(name)
    return Api(types, modules, not_in_swift, aliases, files)


# ---------------------------------------------------------------- the app


def _text(node, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    uses: set[tuple[str, str]] = field(default_factory=set)  # (listed type, member signature or "type")


@dataclass
class _AppType:
    name: str
    properties: dict  # name -> declaration node (type annotation or initialiser)
    conforms: list[str]
    node: object
    source: bytes


class Checker:
    def __init__(self, api: Api, sources: dict[str, bytes]):
        self.api = api
        self.sources = sources
        self.trees = {name: swift_parser().parse(src) for name, src in sources.items()}
        self.report = Report()
        self.app_types: dict[str, _AppType] = {}
        self.prop_cache: dict[tuple[str, str], str | None] = {}
        for name, tree in self.trees.items():
            self._collect_types(tree.root_node, sources[name], None)

    # --- app declarations

    def _collect_types(self, node, source: bytes, outer: str | None) -> None:
        for child in node.children:
            if child.type in ("class_declaration", "protocol_declaration"):
                names = [c for c in child.children if c.type in ("type_identifier", "user_type")]
                if not names:
                    continue
                name = _text(names[0], source)
                if outer and child.parent is not None and child.parent.type in ("class_body", "enum_class_body"):
                    name = f"{outer}.{name}"
                conforms = [_text(c, source).strip() for c in child.children if c.type == "inheritance_specifier"]
                body = next((c for c in child.children if c.type in ("class_body", "enum_class_body", "protocol_body")), None)
                entry = self.app_types.setdefault(name, _AppType(name, {}, [], child, source))
                entry.conforms += conforms
                if body is not None:
                    for member in body.children:
                        if member.type == "property_declaration":
                            for pattern in [c for c in member.children if c.type == "pattern"]:
                                entry.properties[_text(pattern, source).strip()] = (member, source, name)
                    self._collect_types(body, source, name)

    def _app_property(self, type_name: str, prop: str) -> str | None:
        key = (type_name, prop)
        if key in self.prop_cache:
            return self.prop_cache[key]
        self.prop_cache[key] = None
        app = self.app_types.get(type_name)
        if app is None or prop not in app.properties:
            return None
        member, source, owner = app.properties[prop]
        annotation = next((c for c in member.children if c.type == "type_annotation"), None)
        result = None
        if annotation is not None:
            result = self._declared(_text(annotation, source).lstrip(":").strip())
        else:
            value = member.child_by_field_name("value")
            if value is not None:
                result = self._infer(value, {}, _Context(owner, source, ""))
        self.prop_cache[key] = result
        return result

    def _declared(self, text: str) -> str | None:
        """A type annotation in the app -> a listed type, `[T]`, an app type, or None."""
        text = re.sub(r"^(inout|some|any)\s+", "", text.strip()).rstrip("?!").strip()
        resolved = self.api.resolve(text)
        if resolved:
            return resolved
        if text.startswith("[") and text.endswith("]") and ":" not in text:
            inner = self._declared(text[1:-1])
            return f"[{inner}]" if inner else None
        return text if text in self.app_types else None

    # --- walking

    def run(self) -> Report:
        for name, tree in sorted(self.trees.items()):
            source = self.sources[name]
            self._walk(tree.root_node, {}, _Context(None, source, name))
            self._identifiers(tree.root_node, source, name)
        for app in self.app_types.values():
            self._conformance(app)
        self.report.problems = sorted(set(self.report.problems))
        return self.report

    def _problem(self, node, ctx: "_Context", message: str) -> None:
        self.report.problems.append(f"{ctx.file}:{node.start_point[0] + 1}: {message}")

    def _walk(self, node, env: dict, ctx: "_Context") -> None:
        kind = node.type
        if kind in ("class_declaration", "protocol_declaration"):
            names = [c for c in node.children if c.type in ("type_identifier", "user_type")]
            name = _text(names[0], ctx.source) if names else None
            if name and ctx.self_type and f"{ctx.self_type}.{name}" in self.app_types:
                name = f"{ctx.self_type}.{name}"
            for child in node.children:
                self._walk(child, {}, _Context(name, ctx.source, ctx.file))
            return
        if kind in ("function_declaration", "init_declaration", "lambda_literal", "computed_property", "computed_getter", "computed_setter"):
            scope = dict(env)
            for param in self._parameters(node):
                scope.update(param)
            for child in node.children:
                self._walk(child, scope, ctx)
            return
        if kind == "property_declaration":
            self._bind_property(node, env, ctx)
        elif kind in ("if_statement", "guard_statement", "while_statement"):
            self._bind_conditions(node, env, ctx)
        elif kind == "for_statement":
            self._bind_for(node, env, ctx)
        elif kind == "switch_statement":
            self._check_switch(node, env, ctx)
        elif kind == "navigation_expression":
            self._infer(node, env, ctx)
        elif kind == "call_expression":
            self._infer(node, env, ctx)
        elif kind == "equality_expression":
            self._check_equality(node, env, ctx)
        elif kind == "assignment":
            self._check_assignment(node, env, ctx)
        for child in node.children:
            self._walk(child, env, ctx)

    def _parameters(self, node) -> list[dict]:
        found = []
        for child in node.children:
            if child.type == "parameter":
                names = [c for c in child.children if c.type == "simple_identifier"]
                types = [c for c in child.children if c.type not in ("simple_identifier", ":")]
                if names and types:
                    found.append({_text(names[-1], self._source_of(node)): self._declared(_text(types[-1], self._source_of(node)))})
            elif child.type == "lambda_function_type":
                for params in (c for c in child.children if c.type == "lambda_function_type_parameters"):
                    for param in (c for c in params.children if c.type == "lambda_parameter"):
                        names = [c for c in param.children if c.type == "simple_identifier"]
                        types = [c for c in param.children if c.type not in ("simple_identifier", ":")]
                        if names and types:
                            found.append({_text(names[0], self._source_of(node)): self._declared(_text(types[-1], self._source_of(node)))})
        return found

    def _source_of(self, node) -> bytes:
        root = node
        while root.parent is not None:
            root = root.parent
        for name, tree in self.trees.items():
            if tree.root_node == root:
                return self.sources[name]
        raise LookupError("node of no known tree")

    def _bind_property(self, node, env: dict, ctx: "_Context") -> None:
        patterns = [c for c in node.children if c.type == "pattern"]
        annotation = next((c for c in node.children if c.type == "type_annotation"), None)
        value = node.child_by_field_name("value")
        for pattern in patterns:
            name = _text(pattern, ctx.source).strip()
            if not re.fullmatch(r"\w+", name):
                continue
            if annotation is not None:
                env[name] = self._declared(_text(annotation, ctx.source).lstrip(":").strip())
            elif value is not None:
                env[name] = self._infer(value, env, ctx)

    def _bind_conditions(self, node, env: dict, ctx: "_Context") -> None:
        children = node.children
        for i, child in enumerate(children):
            if child.type == "value_binding_pattern":  # if let x = expr / guard let x = expr
                j = i + 1
                if j + 2 < len(children) and children[j].type == "simple_identifier" and children[j + 1].type == "=":
                    env[_text(children[j], ctx.source)] = self._infer(children[j + 2], env, ctx)
            if child.type == "case" and i + 2 < len(children) and _text(children[i + 1], ctx.source) == ".":
                # if case .member(let x) = expr
                member = _text(children[i + 2], ctx.source)
                rest = children[i + 3 :]
                target = next((rest[k + 1] for k, c in enumerate(rest[:-1]) if c.type == "="), None)
                subject = self._infer(target, env, ctx) if target is not None else None
                bound = [c for c in rest if c.type == "pattern"]
                self._check_implicit(children[i + 2], member, subject, ctx, bindings=[_text(b, ctx.source) for b in bound], env=env)

    def _bind_for(self, node, env: dict, ctx: "_Context") -> None:
        pattern = next((c for c in node.children if c.type == "pattern"), None)
        sequence = None
        seen_in = False
        for child in node.children:
            if seen_in and child.is_named:
                sequence = child
                break
            if child.type == "in":
                seen_in = True
        if pattern is None or sequence is None:
            return
        element = self._infer(sequence, env, ctx)
        name = _text(pattern, ctx.source).strip()
        if re.fullmatch(r"\w+", name):
            env[name] = element[1:-1] if element and element.startswith("[") else None

    # --- inference

    def _infer(self, node, env: dict, ctx: "_Context") -> str | None:
        if node is None:
            return None
        kind = node.type
        text = _text(node, ctx.source)
        if kind == "simple_identifier":
            if text in env:
                return env[text]
            if ctx.self_type:
                found = self._app_property(ctx.self_type, text)
                if found:
                    return found
            if self.api.top_level(text):
                self._use(self.api.top_level(text), "type", node, ctx)
                return f"type:{text}"
            if text in self.api.modules:
                return f"module:{text}"
            if text in self.app_types:
                return f"type:{text}"
            return None
        if kind == "self_expression":
            return ctx.self_type
        if kind in ("try_expression", "await_expression", "parenthesized_expression", "postfix_expression"):
            inner = [c for c in node.children if c.is_named and c.type not in ("try_operator",)]
            return self._infer(inner[-1] if kind != "postfix_expression" else inner[0], env, ctx) if inner else None
        if kind == "as_expression":
            target = node.child_by_field_name("name")
            self._infer(node.child_by_field_name("expr"), env, ctx)
            return self._declared(_text(target, ctx.source)) if target is not None else None
        if kind == "navigation_expression":
            return self._navigation(node, env, ctx)
        if kind == "call_expression":
            return self._call(node, env, ctx)
        return None

    def _member_name(self, navigation, ctx) -> tuple[object, str | None, object]:
        target = navigation.child_by_field_name("target")
        suffix = navigation.child_by_field_name("suffix")
        name_node = next((c for c in suffix.children if c.type == "simple_identifier"), None) if suffix is not None else None
        return target, (_text(name_node, ctx.source) if name_node is not None else None), (name_node or navigation)

    def _navigation(self, node, env: dict, ctx: "_Context") -> str | None:
        target, name, name_node = self._member_name(node, ctx)
        if name is None:
            return None
        base = self._infer(target, env, ctx)
        return self._member_type(base, name, None, name_node, ctx, call=False)

    def _member_type(self, base: str | None, name: str, labels, name_node, ctx, *, call: bool, args=None, env=None) -> str | None:
        if base is None or name in ("self", "Type"):  # X.self is the metatype, not a member
            return None
        if base.startswith("module:"):
            module = base.split(":", 1)[1]
            if name in self.api.modules.get(module, ()):
                self._use(name, "type", name_node, ctx)
                return self._init(name, labels, name_node, ctx, args, env) if call else f"type:{name}"
            self._problem(name_node, ctx, f"module {module} has no type {name!r} in ios_demo/api")
            return None
        if base.startswith("["):
            return {"first": base[1:-1], "last": base[1:-1]}.get(name) if not call else None
        static = base.startswith("type:")
        owner = base.split(":", 1)[1] if static else base
        if owner not in self.api.types:
            if static and owner in self.app_types and f"{owner}.{name}" in self.app_types:
                return f"type:{owner}.{name}"
            if not static and owner in self.app_types and not call:
                return self._app_property(owner, name)
            return None
        nested = f"{owner}.{name}"
        if static and nested in self.api.types:
            self._use(nested, "type", name_node, ctx)
            return self._init(nested, labels, name_node, ctx, args, env) if call else f"type:{nested}"
        candidates = self.api.lookup(owner, name, static=static)
        if not candidates:
            kind = "type member" if static else "member"
            known = sorted({m.name for m in self._all_members(owner) if (m.static or m.kind == "case") == static})
            self._problem(name_node, ctx, f"{owner} has no {kind} {name!r} in ios_demo/api/{self.api.types[owner].source} "
                                          f"(it has: {', '.join(known) or 'none'})")
            return None
        if call:
            matched = [m for m in candidates if m.params is not None and _matches(m.params, labels)]
            if not matched:
                wanted = f"{name}({''.join((label or '_') + ':' for label in labels[0])})"
                self._problem(name_node, ctx, f"{owner} has no {wanted} in ios_demo/api/{self.api.types[owner].source} "
                                              f"(it has: {', '.join(m.signature for m in candidates)})")
                return None
            member = matched[0]
            self._use(owner, member.signature, name_node, ctx, member.ios)
            self._check_arguments(member, args, env, ctx)
            if member.kind == "case":
                return owner
            return self.api.resolve(member.type, owner) if member.type else None
        member = candidates[0]
        self._use(owner, member.signature, name_node, ctx, member.ios)
        if member.kind == "case":
            return owner
        return self.api.resolve(member.type, owner)

    def _all_members(self, owner: str) -> list[Member]:
        members, queue, seen = [], [owner], set()
        while queue:
            current = queue.pop(0)
            if current in seen or current not in self.api.types:
                continue
            seen.add(current)
            members += self.api.types[current].members
            queue += self.api.types[current].inherits
        return members

    def _init(self, owner: str, labels, name_node, ctx, args, env) -> str | None:
        if owner not in self.api.types:
            return owner if owner in self.app_types else None
        inits = self.api.lookup(owner, "init")
        matched = [m for m in inits if _matches(m.params, labels)]
        if not matched:
            wanted = f"init({''.join((label or '_') + ':' for label in labels[0])})"
            self._problem(name_node, ctx, f"{owner} has no {wanted} in ios_demo/api/{self.api.types[owner].source} "
                                          f"(it has: {', '.join(m.signature for m in inits) or 'no initialiser'})")
            return owner
        self._use(owner, matched[0].signature, name_node, ctx, matched[0].ios)
        self._check_arguments(matched[0], args, env, ctx)
        return owner

    def _call(self, node, env: dict, ctx: "_Context") -> str | None:
        callee = node.children[0]
        suffix = next((c for c in node.children if c.type == "call_suffix"), None)
        args, labels, trailing = [], [], False
        if suffix is not None:
            for part in suffix.children:
                if part.type == "value_arguments":
                    for arg in (c for c in part.children if c.type == "value_argument"):
                        label = arg.child_by_field_name("name")
                        labels.append(_text(label, ctx.source).rstrip(":").strip() if label is not None else None)
                        args.append(arg.child_by_field_name("value"))
                elif part.type == "lambda_literal":
                    trailing = True
        call_labels = (tuple(labels), trailing)
        if callee.type == "navigation_expression":
            target, name, name_node = self._member_name(callee, ctx)
            if name is None:
                return None
            base = self._infer(target, env, ctx)
            return self._member_type(base, name, call_labels, name_node, ctx, call=True, args=args, env=env)
        if callee.type == "simple_identifier":
            name = _text(callee, ctx.source)
            if name in env or (ctx.self_type and self._app_property(ctx.self_type, name)):
                return None
            if self.api.top_level(name):
                return self._init(name, call_labels, callee, ctx, args, env)
            if name in self.app_types:
                return name
        return None

    def _check_arguments(self, member: Member, args, env, ctx) -> None:
        """Implicit members passed as arguments (`for: .video`) are checked against the parameter's type."""
        if not args or member.params is None:
            return
        params = [p for p in member.params]
        for index, arg in enumerate(args):
            if arg is None or arg.type != "prefix_expression":
                continue
            text = _text(arg, ctx.source)
            match = re.match(r"^\.(\w+)$", text)
            if not match:
                continue
            param = _param_for(params, index, [a for a in args])
            if param is None:
                continue
            expected = self.api.resolve(param.type, member.owner)
            self._check_implicit(arg, match.group(1), expected, ctx)

    # --- implicit members

    def _check_implicit(self, node, name: str, expected: str | None, ctx, *, bindings=(), env=None) -> None:
        if expected is None or expected.startswith("[") or expected not in self.api.types:
            return
        found = [m for m in self.api.lookup(expected, name) if m.static or m.kind == "case"]
        if not found:
            known = sorted({m.name for m in self._all_members(expected) if m.static or m.kind == "case"})
            self._problem(node, ctx, f"{expected} has no case or static member {name!r} in ios_demo/api/{self.api.types[expected].source} "
                                     f"(it has: {', '.join(known)})")
            return
        member = found[0]
        self._use(expected, member.signature, node, ctx, member.ios)
        if env is not None and member.params:
            for binding, param in zip(bindings, member.params):
                variable = re.sub(r"^(let|var)\s+", "", binding.strip())
                if re.fullmatch(r"\w+", variable):
                    env[variable] = self.api.resolve(param.type, expected)

    def _check_switch(self, node, env: dict, ctx) -> None:
        subject_node = next((c for c in node.children if c.is_named and c.type not in ("switch_entry",)), None)
        subject = self._infer(subject_node, env, ctx)
        for entry in (c for c in node.children if c.type == "switch_entry"):
            for pattern in (c for c in entry.children if c.type == "switch_pattern"):
                text = _text(pattern, ctx.source).strip()
                match = re.match(r"^\.(\w+)(?:\((.*)\))?$", text, re.S)
                if match:
                    bindings = _split_top(match.group(2)) if match.group(2) else []
                    self._check_implicit(pattern, match.group(1), subject, ctx, bindings=bindings, env=env)

    def _check_equality(self, node, env: dict, ctx) -> None:
        sides = [c for c in node.children if c.is_named]
        if len(sides) != 2:
            return
        for implicit, other in ((sides[0], sides[1]), (sides[1], sides[0])):
            match = re.match(r"^\.(\w+)$", _text(implicit, ctx.source)) if implicit.type == "prefix_expression" else None
            if match:
                self._check_implicit(implicit, match.group(1), self._infer(other, env, ctx), ctx)

    def _check_assignment(self, node, env: dict, ctx) -> None:
        target = node.child_by_field_name("target")
        result = node.child_by_field_name("result")
        if target is None or result is None or result.type != "prefix_expression":
            return
        match = re.match(r"^\.(\w+)$", _text(result, ctx.source))
        if not match:
            return
        inner = next((c for c in target.children if c.is_named), None)
        expected = self._infer(inner, env, ctx) if inner is not None else None
        if inner is not None and inner.type == "navigation_expression":
            expected = self._navigation(inner, env, ctx)
        self._check_implicit(result, match.group(1), expected, ctx)

    # --- uses, availability, identifiers, conformance

    def _use(self, owner: str, signature: str, node, ctx, ios: str | None = None) -> None:
        self.report.uses.add((owner, signature))
        needed = ios or self.api.types.get(owner, ApiType("", "", "", [], [], None, "")).ios
        if needed and _version(needed) > _version(DEPLOYMENT_TARGET) and not _guarded(node, needed, ctx.source):
            what = owner if signature == "type" else f"{owner}.{signature}"
            self._problem(node, ctx, f"{what} needs iOS {needed} (deployment target {DEPLOYMENT_TARGET}): use it under "
                                     f"`if #available(iOS {needed}, *)`")

    def _identifiers(self, root, source: bytes, filename: str) -> None:
        ctx = _Context(None, source, filename)
        stack = [root]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            if node.type not in ("simple_identifier", "type_identifier"):
                continue
            name = _text(node, source)
            if name in self.api.modules or (node.parent is not None and node.parent.type in ("identifier", "import_declaration")):
                continue  # `import AVFoundation`
            if name in self.api.not_in_swift:
                self._problem(node, ctx, f"{name} is not visible from Swift: {self.api.not_in_swift[name]}")
            elif FRAMEWORK_PREFIX.match(name) and name not in self.api.types and name not in self.api.aliases and name not in self.app_types:
                parent = node.parent
                # a member name after a dot is checked against its owner's list instead
                if parent is not None and parent.type == "navigation_suffix":
                    continue
                self._problem(node, ctx, f"{name} is not in the Core ML, Vision or AVFoundation lists (ios_demo/api); "
                                         "add it there from Apple's documentation if the app needs it")
            elif name in self.api.types and "." not in name:
                self._use(name, "type", node, ctx)

    def _conformance(self, app: _AppType) -> None:
        ctx = _Context(app.name, app.source, self._file_of(app.node))
        protocols = [p for text in app.conforms for p in re.split(r"[,\s]+", text) if p in self.api.types and self.api.types[p].kind == "protocol"]
        body = next((c for c in app.node.children if c.type in ("class_body", "enum_class_body")), None)
        if not protocols or body is None:
            return
        for function in (c for c in body.children if c.type == "function_declaration"):
            name_node = next((c for c in function.children if c.type == "simple_identifier"), None)
            if name_node is None:
                continue
            name = _text(name_node, app.source)
            labels = []
            for param in (c for c in function.children if c.type == "parameter"):
                idents = [c for c in param.children if c.type == "simple_identifier"]
                external = _text(param.children[0], app.source) if param.children else ""
                labels.append(None if external == "_" else (_text(idents[0], app.source) if idents else None))
            for protocol in protocols:
                required = [m for m in self.api.types[protocol].members if m.name == name and m.kind == "func"]
                if not required:
                    continue
                if any(tuple(p.label for p in m.params) == tuple(labels) for m in required):
                    self.report.uses.add((protocol, next(m for m in required if tuple(p.label for p in m.params) == tuple(labels)).signature))
                else:
                    got = f"{name}({''.join((label or '_') + ':' for label in labels)})"
                    self._problem(name_node, ctx, f"{app.name}.{got} does not match {protocol}'s "
                                                  f"{', '.join(m.signature for m in required)}: it would never be called")

    def _file_of(self, node) -> str:
        root = node
        while root.parent is not None:
            root = root.parent
        return next(name for name, tree in self.trees.items() if tree.root_node == root)


@dataclass(frozen=True)
class _Context:
    self_type: str | None
    source: bytes
    file: str


def _matches(params: tuple[Param, ...], call: tuple) -> bool:
    """Whether call labels (labels, has trailing closure) fit a parameter list (defaults, variadics, closures)."""
    labels, trailing = call
    args = list(labels)
    remaining = list(params)
    if trailing:
        if not remaining or "->" not in remaining[-1].type:
            return False
        remaining = remaining[:-1]
    i = 0
    for param in remaining:
        if i < len(args) and args[i] == param.label:
            i += 1
            if param.variadic:
                while i < len(args) and args[i] is None:
                    i += 1
        elif param.has_default:
            continue
        else:
            return False
    return i == len(args)


def _param_for(params: list[Param], index: int, args: list) -> Param | None:
    """The parameter an argument at `index` binds to, for calls whose labels matched (no defaults skipped)."""
    return params[index] if index < len(params) else None


def _guarded(node, needed: str, source: bytes) -> bool:
    """Inside the then-branch of `if #available(iOS X, *)` with X >= needed, or a declaration marked @available."""
    child, parent = node, node.parent
    while parent is not None:
        if parent.type == "if_statement":
            condition = "".join(_text(c, source) for c in parent.children if c.type == "availability_condition")
            match = re.search(r"iOS\s+([\d.]+)", condition)
            else_at = next((c.start_byte for c in parent.children if c.type == "else"), None)
            if match and _version(match.group(1)) >= _version(needed) and (else_at is None or child.start_byte < else_at):
                return True
        if parent.type in ("function_declaration", "class_declaration"):
            header = _text(parent, source)[:200]
            match = re.search(r"@available\(iOS\s+([\d.]+)", header)
            if match and _version(match.group(1)) >= _version(needed):
                return True
        child, parent = parent, parent.parent
    return False


def check(sources: dict[str, bytes] | None = None, api: Api | None = None) -> Report:
    if sources is None:
        sources = {p.relative_to(IOS_DEMO).as_posix(): p.read_bytes() for p in sorted(IOS_DEMO.rglob("*.swift"))}
    return Checker(api or load_api(), sources).run()
