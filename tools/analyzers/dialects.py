"""The node vocabulary of Go, Java and JavaScript/TypeScript for the shared rules."""

from __future__ import annotations

from tree_sitter import Node

from tools.analyzers.syntax import Dialect


def _go_member(node: Node) -> Node | None:
    if node.type in ("selector_expression", "index_expression", "slice_expression"):
        return node.child_by_field_name("operand")
    if node.type == "unary_expression" and node.children and node.children[0].type == "*":
        return node.child_by_field_name("operand")
    if node.type == "call_expression":
        callee = node.child_by_field_name("function")
        return callee if callee is not None and callee.type == "identifier" else None
    return None


def _java_member(node: Node) -> Node | None:
    if node.type in ("method_invocation", "field_access"):
        return node.child_by_field_name("object")
    if node.type == "array_access":
        return node.child_by_field_name("array")
    if node.type == "enhanced_for_statement":
        return node.child_by_field_name("value")
    return None


def _js_member(node: Node) -> Node | None:
    if node.type in ("member_expression", "subscript_expression"):
        if node.child_by_field_name("optional_chain") is not None or any(c.type == "?." for c in node.children):
            return None
        return node.child_by_field_name("object")
    return None


_SHARED_EXITS = ("panic", "os.Exit", "Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Exit", "exit")

GO = Dialect(
    name="go",
    functions=frozenset({"function_declaration", "method_declaration", "func_literal"}),
    if_type="if_statement",
    blocks=frozenset({"block"}),
    exits=frozenset({"return_statement", "goto_statement", "break_statement", "continue_statement"}),
    null_literals=frozenset({"nil"}),
    calls=frozenset({"call_expression"}),
    member=_go_member,
    exit_calls=(*_SHARED_EXITS, "FailNow", "Skip", "Goexit"),
    loops=frozenset({"for_statement"}),
)
JAVA = Dialect(
    name="java",
    functions=frozenset({"method_declaration", "constructor_declaration", "lambda_expression"}),
    if_type="if_statement",
    blocks=frozenset({"block", "constructor_body"}),
    exits=frozenset({"return_statement", "throw_statement", "break_statement", "continue_statement"}),
    null_literals=frozenset({"null"}),
    calls=frozenset({"method_invocation", "object_creation_expression"}),
    member=_java_member,
    exit_calls=("System.exit", "Runtime.getRuntime().halt", "fail"),
    loops=frozenset({"for_statement", "enhanced_for_statement", "while_statement", "do_statement"}),
    catch_types=frozenset({"catch_clause"}),
)
JAVASCRIPT = Dialect(
    name="javascript",
    functions=frozenset(
        {
            "function_declaration",
            "function_expression",
            "arrow_function",
            "method_definition",
            "function",
            "generator_function_declaration",
        }
    ),
    if_type="if_statement",
    blocks=frozenset({"statement_block"}),
    exits=frozenset({"return_statement", "throw_statement", "break_statement", "continue_statement"}),
    null_literals=frozenset({"null", "undefined"}),
    calls=frozenset({"call_expression", "new_expression"}),
    member=_js_member,
    exit_calls=("process.exit",),
    loops=frozenset({"for_statement", "for_in_statement", "while_statement", "do_statement"}),
    catch_types=frozenset({"catch_clause"}),
)


def dialect_for(language: str) -> Dialect:
    """The dialect of ``go``, ``java``, ``javascript``, ``typescript`` or ``tsx``."""
    return {"go": GO, "java": JAVA}.get(language, JAVASCRIPT)
