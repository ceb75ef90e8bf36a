"""Tree-sitter parsing for the review analyzers: one parser per language, and the node vocabulary each uses.

A :class:`Dialect` names, per language, the node types the language-neutral rules ask about
(functions, ifs, blocks, member access, calls, literals). Rules read a tree only through it,
so Go, Java and JavaScript/TypeScript share one implementation of "is this dereference
guarded on every path". Parsers are built lazily and cached: nothing loads at import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from tree_sitter import Language, Node, Parser


@lru_cache(maxsize=8)
def parser_for(language: str) -> Parser:
    """A cached tree-sitter parser for ``go``, ``java``, ``javascript``, ``typescript`` or ``tsx``."""
    if language == "go":
        import tree_sitter_go as grammar

        return Parser(Language(grammar.language()))
    if language == "java":
        import tree_sitter_java as grammar_java

        return Parser(Language(grammar_java.language()))
    if language == "javascript":
        import tree_sitter_javascript as grammar_js

        return Parser(Language(grammar_js.language()))
    import tree_sitter_typescript as grammar_ts

    return Parser(Language(grammar_ts.language_tsx() if language == "tsx" else grammar_ts.language_typescript()))


@dataclass(frozen=True)
class Dialect:
    """The node types of one language that the shared rules need."""

    name: str
    functions: frozenset[str]
    if_type: str
    blocks: frozenset[str]
    exits: frozenset[str]
    null_literals: frozenset[str]
    calls: frozenset[str]
    member: Callable[[Node], Node | None]
    """The object a member access / method call / index / pointer deref reads, or None."""
    exit_calls: tuple[str, ...] = ()
    """Call names (suffixes) that never return: panic, os.Exit, log.Fatal..."""
    loops: frozenset[str] = field(default_factory=frozenset)
    catch_types: frozenset[str] = field(default_factory=frozenset)


class Source:
    """A parsed file: the tree plus the text helpers every rule uses."""

    def __init__(self, text: str, dialect: Dialect, language: str) -> None:
        self.data = text.encode("utf-8", "replace")
        self.dialect = dialect
        self.root = parser_for(language).parse(self.data).root_node

    def text(self, node: Node | None) -> str:
        """The source text of ``node`` ('' for None)."""
        if node is None:
            return ""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    @staticmethod
    def line(node: Node) -> int:
        """1-based line where ``node`` starts."""
        return node.start_point[0] + 1


def walk(node: Node) -> Iterator[Node]:
    """Every named node under ``node`` (itself included), in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.is_named:
            yield current
        stack.extend(reversed(current.children))


def own_nodes(function: Node, dialect: Dialect) -> Iterator[Node]:
    """Nodes of ``function``'s body that do not belong to a nested function."""
    stack = list(reversed(function.children))
    while stack:
        current = stack.pop()
        if current.type in dialect.functions:
            continue
        if current.is_named:
            yield current
        stack.extend(reversed(current.children))


def functions(root: Node, dialect: Dialect) -> list[Node]:
    """Every function, method, closure and arrow function in the file."""
    return [n for n in walk(root) if n.type in dialect.functions]


def enclosing(node: Node, types: frozenset[str]) -> Node | None:
    """The nearest ancestor of ``node`` whose type is in ``types``."""
    current = node.parent
    while current is not None and current.type not in types:
        current = current.parent
    return current


def inside(node: Node, container: Node | None) -> bool:
    """``node`` lies within ``container``."""
    return container is not None and container.start_byte <= node.start_byte and node.end_byte <= container.end_byte


def unwrap(node: Node | None) -> Node | None:
    """``node`` without surrounding parentheses."""
    while node is not None and node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def call_name(src: Source, call: Node) -> str:
    """The callee text of a call (``os.Open``, ``reader.close``, ``fetch``), '' when not a call."""
    if call.type not in src.dialect.calls:
        return ""
    callee = call.child_by_field_name("function")
    if callee is None and call.type == "method_invocation":
        target = call.child_by_field_name("object")
        name = src.text(call.child_by_field_name("name"))
        return f"{src.text(target)}.{name}" if target is not None else name
    if call.type == "object_creation_expression":
        return "new " + src.text(call.child_by_field_name("type"))
    return src.text(callee)
