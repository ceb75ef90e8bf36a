"""Go analyzer (patterns over cleaned lines)."""

from __future__ import annotations

import re

from tools.analyzers.base import CodeFinding
from tools.analyzers.patterns import Rule, block, block_is_empty, deref_after, inverted_checks, run_checkers, scope_end

_OPEN = re.compile(
    r"^\s*(?P<name>\w+)\s*(?:,\s*\w+\s*)?:?=\s*(?P<call>os\.(?:Open|OpenFile|Create|CreateTemp)|sql\.Open"
    r"|net\.(?:Dial|DialTimeout|Listen)|http\.(?:Get|Post|Head|PostForm)|\w*[cC]lient\.(?:Do|Get|Post)"
    r"|\w*[dD][bB]\.(?:Query|QueryContext|Conn))\("
)
_ERR_IF = re.compile(r"^\s*if\s+(?:[^;{]+;\s*)?err\s*!=\s*nil\s*\{")
_ERR_ASSIGN = re.compile(r"^\s*(?P<name>\w+)\s*,\s*(?P<err>err|_)\s*:?=\s*[\w.]+\(")
_EXITS = re.compile(r"\b(return|panic|continue|break|goto|os\.Exit|log\.Fatal\w*|log\.Panic\w*|t\.Fatal\w*)\b")
_FUNC = re.compile(r"^\s*func\s*(?:\([^)]*\)\s*)?\w+\s*\([^)]*\)\s*(?P<ret>[^{]*)\{")
_GO_FUNC = re.compile(r"^\s*go\s+func\s*\(")
_SHARED_WRITE = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)(?:\[[^\]]*\])?\s*(?:\+\+|--|[-+*/]?=(?!=)\s*)")
_OFF_BY_ONE = re.compile(r"for\s+(?P<v>\w+)\s*:=\s*0\s*;\s*(?P=v)\s*<=\s*len\((?P<seq>[\w.]+)\)")
_LEN_INDEX = re.compile(r"(?P<seq>[\w.]+)\[len\((?P=seq)\)\]")
_NIL_CHECK = re.compile(r"\bif\s+(?P<name>\w+)\s*==\s*nil\s*\{")

LEAK = Rule(
    "go-unclosed",
    "resource_leak",
    "`{name}` from `{call}` is never closed; each call leaks a file descriptor or connection.",
    "Add `defer {target}.Close()` right after the error check.",
    0.8,
)
SWALLOW_EMPTY = Rule(
    "go-empty-err",
    "swallowed_error",
    "`if err != nil {{}}` is empty: the error is dropped and execution continues with bad values.",
    'Return or wrap the error (`return fmt.Errorf("...: %w", err)`).',
    0.8,
)
SWALLOW_NIL = Rule(
    "go-err-return-nil",
    "swallowed_error",
    "The error branch returns a nil error: callers see success when the call failed.",
    "Return the error (`return ..., err`) instead of nil.",
    0.75,
)
NIL_DEREF = Rule(
    "go-nil-after-err",
    "null_dereference",
    "`{name}` is used after its error was ignored or not returned on; it is nil when the call fails (panic).",
    "Return (or continue) in the `err != nil` branch before using `{name}`.",
    0.75,
)
RACE = Rule(
    "go-goroutine-race",
    "concurrency",
    "The goroutine writes `{name}`, which is shared with other goroutines, without synchronization (data race).",
    "Guard `{name}` with a `sync.Mutex`, use `sync/atomic`, or send results over a channel.",
    0.8,
)
OFF_BY_ONE = Rule(
    "go-off-by-one",
    "logic_error",
    "The loop runs to `len({seq})` inclusive and indexes one past the end (index out of range panic).",
    "Use `<` instead of `<=` (or range over `{seq}`).",
    0.85,
)
INVERTED = Rule(
    "go-inverted-nil",
    "logic_error",
    "The `{name} == nil` branch dereferences `{name}` (inverted condition: nil pointer panic).",
    "Invert the test (`{name} != nil`) or handle nil without touching `{name}`.",
    0.8,
)


def leaks(lines: list[str], path: str) -> list[CodeFinding]:
    """Files, connections and HTTP responses without a Close in scope."""
    findings = []
    for index, line in enumerate(lines):
        match = _OPEN.search(line)
        if not match:
            continue
        name, call = match.group("name"), match.group("call")
        if name == "_":
            continue
        rest = "\n".join(lines[index + 1 : scope_end(lines, index) + 1])
        closed = re.search(rf"\b{name}\.(?:Body\.)?Close\(\)|\breturn\b[^\n]*\b{name}\b(?!\.)|[:=]\s*{name}\b", rest)
        if not closed:
            target = f"{name}.Body" if "http" in call.lower() or "client" in call.lower() else name
            findings.append(LEAK.at(path, index, name=name, call=call, target=target))
    return findings


def _returns_error(lines: list[str], index: int) -> tuple[bool, bool]:
    """(function returns an error, returns more than one value) for the func enclosing ``index``."""
    for back in range(index, -1, -1):
        match = _FUNC.match(lines[back])
        if match:
            ret = match.group("ret")
            return "error" in ret, "," in ret
    return False, False


def error_branches(lines: list[str], path: str) -> list[CodeFinding]:
    """Empty ``err != nil`` blocks, blocks that return a nil error, and blocks that fall through."""
    findings = []
    for index, line in enumerate(lines):
        if not _ERR_IF.match(line):
            continue
        first, last = block(lines, index)
        body = "\n".join(lines[first + 1 : last])
        if block_is_empty(lines, first, last):
            findings.append(SWALLOW_EMPTY.at(path, index))
            continue
        returns_error, _many = _returns_error(lines, index)
        returns_nil = re.search(r"\breturn\s+(?:[^,\n]+,\s*)*nil\s*$", body, re.MULTILINE)
        if returns_error and returns_nil and not re.search(r"\breturn\b[^\n]*\berr\b", body):
            findings.append(SWALLOW_NIL.at(path, index))
        findings.extend(_fall_through(lines, path, index, first, last, body))
    return findings


def _fall_through(lines: list[str], path: str, index: int, first: int, last: int, body: str) -> list[CodeFinding]:
    """``v, err := f(); if err != nil { log }; v.X`` — the branch does not leave."""
    if _EXITS.search(body) or index == 0:
        return []
    assigned = _ERR_ASSIGN.match(lines[index - 1])
    if not assigned:
        return []
    name = assigned.group("name")
    use = deref_after(lines, last + 1, scope_end(lines, last + 1), name)
    return [NIL_DEREF.at(path, use, name=name)] if use is not None else []


def ignored_errors(lines: list[str], path: str) -> list[CodeFinding]:
    """``v, _ := f()`` and then ``v.Field``."""
    findings = []
    for index, line in enumerate(lines):
        match = _ERR_ASSIGN.match(line)
        if not match or match.group("err") != "_":
            continue
        name = match.group("name")
        end = scope_end(lines, index)
        use = deref_after(lines, index + 1, end, name)
        guarded = any(re.search(rf"\b{name}\s*[!=]=\s*nil", lines[i]) for i in range(index + 1, use or index + 1))
        if use is not None and not guarded:
            findings.append(NIL_DEREF.at(path, use, name=name))
    return findings


def goroutine_races(lines: list[str], path: str) -> list[CodeFinding]:
    """Writes inside ``go func(){...}`` to variables declared outside it, with no lock/atomic/channel."""
    findings = []
    for index, line in enumerate(lines):
        if not _GO_FUNC.match(line):
            continue
        first, last = block(lines, index)
        body = lines[first + 1 : last]
        text = "\n".join(body)
        if re.search(r"\.Lock\(\)|atomic\.|\.RLock\(\)", text):
            continue
        params = set(re.findall(r"(\w+)\s+[\w.*\[\]]+", line[line.find("(") + 1 : line.find(")")]))
        local = params | set(re.findall(r"(\w+)\s*(?:,\s*\w+\s*)*:=", text)) | set(re.findall(r"\bvar\s+(\w+)", text))
        for offset, inner in enumerate(body):
            match = _SHARED_WRITE.match(inner)
            if match and ":=" not in inner and match.group("name") not in local | {"_", "err"}:
                findings.append(RACE.at(path, first + 1 + offset, name=match.group("name")))
                break
    return findings


def logic(lines: list[str], path: str) -> list[CodeFinding]:
    """Off-by-one loops and indexes, inverted nil checks."""
    findings = []
    for index, line in enumerate(lines):
        match = _OFF_BY_ONE.search(line) or _LEN_INDEX.search(line)
        if match:
            findings.append(OFF_BY_ONE.at(path, index, seq=match.group("seq")))
    findings.extend(inverted_checks(lines, path, _NIL_CHECK, INVERTED))
    return findings


def analyze_go(text: str, path: str) -> list[CodeFinding]:
    """Every Go rule over ``text``."""
    return run_checkers(text, path, [leaks, error_branches, ignored_errors, goroutine_races, logic])
