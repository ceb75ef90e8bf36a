"""Java analyzer (patterns over cleaned lines)."""

from __future__ import annotations

import re

from tools.analyzers.base import CodeFinding
from tools.analyzers.patterns import (
    Rule,
    block,
    block_is_empty,
    deref_after,
    inverted_checks,
    run_checkers,
    scope_end,
    tested,
)

_OPEN = re.compile(
    r"^\s*(?:final\s+)?[\w<>\[\],.?]+\s+(?P<name>\w+)\s*=\s*(?P<call>new\s+(?:FileInputStream|FileOutputStream"
    r"|FileReader|FileWriter|BufferedReader|BufferedWriter|Socket|ServerSocket|RandomAccessFile|PrintWriter|ZipFile"
    r"|ObjectInputStream|ObjectOutputStream|Scanner\((?!System\.in))\b|DriverManager\.getConnection\("
    r"|\w+\.getConnection\(|\w+\.prepareStatement\(|\w+\.createStatement\(|\w+\.openStream\(|\w+\.executeQuery\("
    r"|Files\.new\w+\()"
)
_CATCH = re.compile(r"\bcatch\s*\(\s*(?:final\s+)?(?P<types>[\w.| ]+?)\s+\w+\s*\)\s*\{")
_BROAD = re.compile(r"\b(Exception|Throwable|RuntimeException)\b")
_MAP_DECL = re.compile(r"\b(?:Map|HashMap|TreeMap|LinkedHashMap|ConcurrentHashMap|Properties)\b[^;=()]*?\s(\w+)\s*[=;]")
_NULLABLE = (
    r"System\.(?:getenv|getProperty)\([^,()]+\)|\w+\.(?:getParameter|getHeader|getAttribute)\([^()]*\)"
    r"|[\w.()]+\.orElse\(null\)"
)
_ASSIGN = re.compile(r"^\s*(?:final\s+)?[\w<>\[\],.?]+\s+(?P<name>\w+)\s*=\s*(?P<expr>[^;]+);")
_FIELD = re.compile(
    r"^\s*(?!return\b|throw\b|else\b|new\b)(?:private|protected|public)?\s*(?P<static>static\s+)?(?P<final>final\s+)?(?:volatile\s+)?"
    r"(?P<type>[\w<>\[\], ?]+?)\s+(?P<name>\w+)\s*(?:=\s*(?P<init>[^;]+))?;"
)
_METHOD = re.compile(
    r"^\s*(?:@\w+\s+)*(?:(?:public|private|protected|static|final|synchronized)\s+)*[\w<>\[\],.? ]+"
    r"\s+\w+\s*\([^;]*\)\s*(?:throws\s+[\w., ]+)?\s*\{"
)
_SHARED_CLASS = re.compile(
    r"implements\s+[\w, ]*Runnable|extends\s+Thread\b|ExecutorService|@(?:Rest)?Controller"
    r"|@Service|@Component|parallelStream\(\)|CompletableFuture"
)
_SAFE_TYPE = re.compile(r"Atomic|Concurrent|CopyOnWrite|Lock|ThreadLocal|final\s+String")
_OFF_BY_ONE = re.compile(
    r"for\s*\(\s*int\s+(?P<v>\w+)\s*=\s*0\s*;\s*(?P=v)\s*<=\s*(?P<seq>[\w.]+)\.(?:length|size\(\))"
)
_STRING_EQ = re.compile(r"(?:[\w.)]+\s*[!=]=\s*\"\"|\"\"\s*[!=]=\s*[\w.(]+)")
_NULL_CHECK = re.compile(r"\bif\s*\(\s*(?P<name>\w+)\s*==\s*null\s*\)\s*\{")

LEAK = Rule(
    "java-unclosed",
    "resource_leak",
    "`{name}` (`{call}`) is opened outside try-with-resources and never closed; it leaks on every call.",
    "Open it in `try ({call} ...) {{ ... }}` so it is closed on every path.",
    0.8,
)
SWALLOW = Rule(
    "java-empty-catch",
    "swallowed_error",
    "`catch ({types})` is empty: the failure is silently dropped.",
    "Log and rethrow (or handle) the exception; never leave a catch block empty.",
    0.8,
)
NPE = Rule(
    "java-nullable-deref",
    "null_dereference",
    "`{name}` can be null here (map miss, missing header/env, orElse(null)) and is dereferenced (NPE).",
    "Check `{name}` for null (or use `getOrDefault`/`Optional`) before using it.",
    0.75,
)
RACE = Rule(
    "java-unsynchronized",
    "concurrency",
    "Shared field `{name}` is written without synchronization from code that runs on many threads (race).",
    "Use an Atomic/Concurrent type, or guard `{name}` with `synchronized`/a Lock.",
    0.75,
)
OFF_BY_ONE = Rule(
    "java-off-by-one",
    "logic_error",
    "The loop runs to `{seq}` length inclusive (ArrayIndexOutOfBounds/IndexOutOfBounds).",
    "Use `<` instead of `<=`.",
    0.85,
)
STRING_EQ = Rule(
    "java-string-identity",
    "logic_error",
    "Strings are compared with `==`/`!=` (identity), so equal text can compare unequal.",
    "Compare strings with `.equals(...)` (or `Objects.equals`).",
    0.75,
)
INVERTED = Rule(
    "java-inverted-null",
    "logic_error",
    "The `{name} == null` branch dereferences `{name}` (inverted condition: NullPointerException).",
    "Invert the test (`{name} != null`) or handle null without touching `{name}`.",
    0.8,
)


def _in_try_resources(lines: list[str], index: int) -> bool:
    previous = lines[index - 1] if index else ""
    return bool(re.match(r"\s*try\s*\(", lines[index]) or re.search(r"\btry\s*\(\s*$", previous))


def leaks(lines: list[str], path: str) -> list[CodeFinding]:
    """Streams, readers, sockets and JDBC objects outside try-with-resources and never closed."""
    findings = []
    for index, line in enumerate(lines):
        match = _OPEN.search(line)
        if not match or _in_try_resources(lines, index):
            continue
        name = match.group("name")
        call = match.group("call").replace("(", "").strip()
        rest = "\n".join(lines[index + 1 : scope_end(lines, index) + 1])
        if not re.search(rf"\b{name}\.close\(\)|\breturn\s+{name}\s*;|try\s*\(\s*{name}\b|=\s*{name}\s*;", rest):
            findings.append(LEAK.at(path, index, name=name, call=call))
    return findings


def empty_catches(lines: list[str], path: str) -> list[CodeFinding]:
    """``catch (X e) {}`` with nothing inside."""
    findings = []
    for index, line in enumerate(lines):
        match = _CATCH.search(line)
        if not match:
            continue
        trimmed = [line[match.end() - 1 :], *lines[index + 1 :]]
        first, last = block(trimmed, 0)
        if block_is_empty(trimmed, first, last):
            types = match.group("types").strip()
            rule = SWALLOW if _BROAD.search(types) else Rule(**{**SWALLOW.__dict__, "confidence": 0.7})
            findings.append(rule.at(path, index, types=types))
    return findings


def nullable_derefs(lines: list[str], path: str) -> list[CodeFinding]:
    """Map lookups, env/headers and ``orElse(null)`` used without a null check."""
    maps = {m for line in lines for m in _MAP_DECL.findall(line)}
    nullable = _NULLABLE + (rf"|\b(?:{'|'.join(map(re.escape, sorted(maps)))})\.get\([^()]*\)" if maps else "")
    chained = re.compile(rf"(?:{nullable})\.\w+")
    findings = []
    for index, line in enumerate(lines):
        chain = chained.search(line)
        if chain:
            findings.append(NPE.at(path, index, name=chain.group(0).rsplit(".", 1)[0]))
            continue
        assign = _ASSIGN.match(line)
        if not assign or not re.fullmatch(rf"\s*(?:{nullable})\s*", assign.group("expr")):
            continue
        name = assign.group("name")
        end = scope_end(lines, index)
        use = deref_after(lines, index + 1, end, name)
        if use is not None and not tested(lines, index + 1, use, name):
            findings.append(NPE.at(path, use, name=name))
    return findings


def _method_of(lines: list[str], index: int) -> int:
    for back in range(index, -1, -1):
        if _METHOD.match(lines[back]):
            return back
    return 0


def shared_fields(lines: list[str], path: str) -> list[CodeFinding]:
    """Static (or singleton-component) mutable fields written outside synchronized code."""
    text = "\n".join(lines)
    shared_class = bool(_SHARED_CLASS.search(text))
    fields = {}
    for line in lines:
        match = _FIELD.match(line)
        if not match or line.startswith(("        ", "\t\t")) or _SAFE_TYPE.search(line):
            continue
        mutable_static = match.group("static") and not match.group("final")
        static_collection = match.group("static") and re.search(r"new\s+(HashMap|ArrayList|HashSet|SimpleDate)", line)
        if mutable_static or static_collection or (shared_class and not match.group("final")):
            fields[match.group("name")] = match.group("type")
    classes = re.findall(r"\bclass\s+(\w+)", text) or ["\0"]
    constructor = re.compile(rf"(?<![\w.])(?:{'|'.join(classes)})\s*\(")
    findings = []
    for name in fields:
        write = re.compile(
            rf"(?<![\w.])(?:this\.)?{name}\s*(?:\+\+|--|[-+*/]?=(?!=))|\b{name}\.(?:put|add|remove|clear|format|parse)\("
        )
        for index, line in enumerate(lines):
            if not write.search(line) or _FIELD.match(line):
                continue
            method = _method_of(lines, index)
            guarded = "synchronized" in lines[method] or any(
                re.search(r"synchronized\s*\(|\.lock\(\)", lines[i]) for i in range(method, index)
            )
            if method and not guarded and not constructor.search(lines[method]):
                findings.append(RACE.at(path, index, name=name))
    return findings


def logic(lines: list[str], path: str) -> list[CodeFinding]:
    """Off-by-one loops, string identity comparison, inverted null checks."""
    findings = []
    for index, line in enumerate(lines):
        match = _OFF_BY_ONE.search(line)
        if match:
            findings.append(OFF_BY_ONE.at(path, index, seq=match.group("seq")))
        if _STRING_EQ.search(line) and "null" not in line:
            findings.append(STRING_EQ.at(path, index))
    findings.extend(inverted_checks(lines, path, _NULL_CHECK, INVERTED))
    return findings


def analyze_java(text: str, path: str) -> list[CodeFinding]:
    """Every Java rule over ``text``."""
    return run_checkers(text, path, [leaks, empty_catches, nullable_derefs, shared_fields, logic])
