"""Java analyzer on the tree-sitter Java grammar: nulls, unclosed resources, empty catches, races, logic."""

from __future__ import annotations

import re

from tree_sitter import Node

from tools.analyzers.base import CodeFinding
from tools.analyzers.dialects import JAVA
from tools.analyzers.flow import statements
from tools.analyzers.logic import inverted_checks, off_by_one
from tools.analyzers.nullflow import checked_then_used, dereferenced_params, nulled_members, unguarded_sources
from tools.analyzers.resources import unreleased
from tools.analyzers.syntax import Source, call_name, enclosing, walk

_RESOURCES = re.compile(
    r"^new (?:\w+\.)*(?:File(?:Input|Output)Stream|FileReader|FileWriter|BufferedReader|BufferedWriter|"
    r"InputStreamReader|PrintWriter|RandomAccessFile|Socket|ServerSocket|ZipFile|JarFile|Scanner)$"
    r"|\.(?:getConnection|openStream|openConnection|newInputStream|newOutputStream|newBufferedReader|prepareStatement"
    r"|createStatement|executeQuery)$"
)
_NULLABLE = re.compile(r"^(?:System\.getenv|System\.getProperty|\w+\.getParameter|\w+\.getHeader|\w+\.getAttribute)$")
_MAP_TYPES = re.compile(r"\b(?:Map|HashMap|TreeMap|LinkedHashMap|ConcurrentHashMap|ConcurrentMap|Properties)\b")
_BEAN = re.compile(r"@(?:Service|Component|Controller|RestController|Repository|Singleton|WebServlet)\b")


def _maps(src: Source) -> set[str]:
    names: set[str] = set()
    for node in walk(src.root):
        if node.type in ("field_declaration", "local_variable_declaration") and _MAP_TYPES.search(
            src.text(node.child_by_field_name("type"))
        ):
            names.update(
                src.text(d.child_by_field_name("name")) for d in node.named_children if d.type == "variable_declarator"
            )
    return names


def _source(maps: set[str]):  # type: ignore[no-untyped-def]
    def is_source(src: Source, value: Node) -> str | None:
        if value.type != "method_invocation":
            return None
        name = call_name(src, value)
        args = value.child_by_field_name("arguments")
        count = args.named_child_count if args is not None else 0
        receiver = src.text(value.child_by_field_name("object")).removeprefix("this.")
        if name.endswith(".get") and receiver in maps and count == 1:
            return name
        if _NULLABLE.match(name) and count == 1:
            return name
        if name.endswith(".orElse") and src.text(args) == "(null)":
            return name
        return None

    return is_source


def _acquire(src: Source, value: Node) -> str | None:
    if value.type not in ("object_creation_expression", "method_invocation"):
        return None
    return "stream/connection" if _RESOURCES.search(call_name(src, value)) else None


def empty_catches(src: Source, path: str) -> list[CodeFinding]:
    """``catch (E e) {}`` with nothing in it: the failure disappears."""
    findings = []
    for node in walk(src.root):
        if node.type != "catch_clause":
            continue
        body = node.child_by_field_name("body")
        param = src.text(next((c for c in node.named_children if c.type == "catch_formal_parameter"), None))
        if body is not None and not statements(body) and not re.search(r"\b(?:ignored?|expected)\b", param):
            findings.append(
                CodeFinding(
                    path,
                    src.line(node),
                    "swallowed_error",
                    "The exception is caught and dropped: the failure is invisible and execution continues.",
                    "Log it with context, rethrow, or handle it.",
                    0.75,
                    "java-empty-catch",
                )
            )
    return findings


def shared_state(src: Source, path: str) -> list[CodeFinding]:
    """Fields of singletons written outside synchronization; static date formats; maps changed while iterated."""
    findings = []
    for cls in (n for n in walk(src.root) if n.type == "class_declaration"):
        shared = bool(_BEAN.search(src.text(cls.child_by_field_name("name")) + src.text(cls)[:400]))
        fields = {
            src.text(d.child_by_field_name("name")): src.text(f)
            for f in walk(cls)
            if f.type == "field_declaration"
            for d in f.named_children
            if d.type == "variable_declarator"
        }
        for method in (m for m in walk(cls) if m.type == "method_declaration"):
            modifiers = src.text(next((c for c in method.children if c.type == "modifiers"), None))
            if "synchronized" in modifiers or not shared:
                continue
            for node in walk(method):
                target = _written_field(src, node)
                unsafe = target in fields and not re.search(r"\b(?:final|Atomic\w+|volatile)\b", fields[target])
                if unsafe and enclosing(node, frozenset({"synchronized_statement"})) is None:
                    findings.append(
                        _race(
                            path,
                            src.line(node),
                            f"`{target}` is a field of a shared singleton, "
                            "written without synchronization (lost updates).",
                        )
                    )
                if node.type == "method_invocation" and src.text(node.child_by_field_name("name")) in (
                    "format",
                    "parse",
                ):
                    receiver = src.text(node.child_by_field_name("object"))
                    if "SimpleDateFormat" in fields.get(receiver, "") and "static" in fields.get(receiver, ""):
                        findings.append(
                            _race(
                                path,
                                src.line(node),
                                f"`{receiver}` is a static SimpleDateFormat, which is not thread-safe.",
                            )
                        )
    return findings + _modified_while_iterating(src, path)


def _written_field(src: Source, node: Node) -> str:
    if node.type == "update_expression":
        return src.text(node.named_children[0]).removeprefix("this.") if node.named_children else ""
    if node.type == "assignment_expression":
        return src.text(node.child_by_field_name("left")).removeprefix("this.")
    return ""


def _modified_while_iterating(src: Source, path: str) -> list[CodeFinding]:
    findings = []
    for loop in (n for n in walk(src.root) if n.type == "enhanced_for_statement"):
        collection = re.sub(r"\.(?:entrySet|keySet|values)\(\)$", "", src.text(loop.child_by_field_name("value")))
        body = loop.child_by_field_name("body")
        for node in walk(body) if body is not None else []:
            same = node.type == "method_invocation" and src.text(node.child_by_field_name("object")) == collection
            if same and src.text(node.child_by_field_name("name")) in ("remove", "add", "put", "clear", "putAll"):
                findings.append(
                    _race(
                        path,
                        src.line(node),
                        f"`{collection}` is modified while a for-each loop "
                        "iterates it (ConcurrentModificationException).",
                    )
                )
                break
    return findings


def _race(path: str, line: int, problem: str) -> CodeFinding:
    return CodeFinding(
        path,
        line,
        "concurrency",
        problem,
        "Synchronize the access, use an atomic/concurrent type, or iterate with an Iterator/removeIf.",
        0.75,
        "java-shared-state",
    )


def string_identity(src: Source, path: str) -> list[CodeFinding]:
    """``s == "literal"`` compares references, not text."""
    findings = []
    for node in walk(src.root):
        identity = node.type == "binary_expression" and any(c.type in ("==", "!=") for c in node.children)
        if identity and any(c.type == "string_literal" for c in node.named_children):
            findings.append(
                CodeFinding(
                    path,
                    src.line(node),
                    "logic_error",
                    "`==` compares String references, not their text.",
                    "Use `.equals(...)`.",
                    0.8,
                    "java-string-identity",
                )
            )
    return findings


def analyze_java(text: str, path: str) -> list[CodeFinding]:
    """Every Java rule over ``text``."""
    src = Source(text, JAVA, "java")
    findings = unguarded_sources(src, path, _source(_maps(src)))
    findings += checked_then_used(src, path, dereferenced_params(src))
    findings += nulled_members(src, path)
    for rule in (empty_catches, shared_state, string_identity, inverted_checks, off_by_one):
        findings.extend(rule(src, path))
    findings.extend(unreleased(src, path, _acquire))
    return findings
