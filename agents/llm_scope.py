"""What a model's read calls may reach: the incident's own repository and subject, nothing else.

A model chooses tool arguments, and what it reads (a log line, a PR body) may tell it to
look elsewhere. So the arguments are bound in code before the call: the review tools'
``owner``/``repo`` are the incident's configured repository (a different one is refused),
the log tools read the configured sources for the incident's namespace and workload (no
``paths`` of the model's choosing), and a PromQL query may not select another namespace.
A refusal is a sentence the model can act on; the call is recorded as denied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

REPO_TOOLS = frozenset({"get_release_by_tag", "get_latest_release", "pull_request_read", "get_file_contents"})
LOG_TOOLS = frozenset({"search_logs", "classify_logs", "trace_chain"})
QUERY_TOOLS = frozenset({"execute_query", "execute_range_query"})
NAMESPACE_MATCHER = re.compile(r"""\bnamespace\s*(=~|!=|!~|=)\s*(["'`])(.*?)\2""")


@dataclass(frozen=True)
class Scope:
    """The incident's repository (``OWNER/NAME``) and subject (namespace, workload)."""

    repo: str | None = None
    namespace: str | None = None
    workload: str | None = None

    def bind(self, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """(the arguments to call with, or a refusal sentence when the call reaches outside the scope)."""
        if tool in REPO_TOOLS:
            return self._repo(args)
        if tool in LOG_TOOLS:
            return self._logs(tool, args)
        if tool in QUERY_TOOLS:
            return args, self._query(str(args.get("query", "")))
        return args, ""

    def _repo(self, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if not self.repo:
            return args, "no repository is configured for this incident's service"
        owner, _, name = self.repo.partition("/")
        asked = f"{args.get('owner') or owner}/{args.get('repo') or name}"
        if asked.lower() != self.repo.lower():
            return args, f"only this incident's repository {self.repo} may be read (asked for {asked})"
        return {**args, "owner": owner, "repo": name}, ""

    def _logs(self, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if args.get("paths"):
            return args, "log paths are fixed by the configuration (logs.files); omit paths"
        bound = dict(args)
        for key, own in (("namespace", self.namespace), ("workload", self.workload)):
            if tool == "search_logs" or own is None:
                continue
            given = bound.get(key)
            if given and given != own:
                return args, f"{key} is this incident's {own!r} (asked for {given!r})"
            bound[key] = own
        return bound, ""

    def _query(self, query: str) -> str:
        if not self.namespace:
            return ""
        for op, _quote, value in NAMESPACE_MATCHER.findall(query):
            if op == "=" and value != self.namespace:
                return f"queries stay in this incident's namespace {self.namespace!r} (asked for {value!r})"
            if op == "=~" and not re.fullmatch(value, self.namespace):
                return f"queries stay in this incident's namespace {self.namespace!r} (asked for ~{value!r})"
            if op in ("!=", "!~"):
                return f"queries stay in this incident's namespace {self.namespace!r}: select it with namespace="
        return ""
