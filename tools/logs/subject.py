"""The subject of a question: only its records count (issue 13: log evidence scoped to the subject).

A record belongs to the subject when the identity it carries (:mod:`tools.logs.identity`;
for events the ``involvedObject``, for audit the ``objectRef``) agrees with every part the
subject names that the record also names, and matches at least one of them. A record
that names none of them (no identity at all, or only parts the subject does not give) is
the subject's only when its source is configured as the subject's: ``logs.owners`` maps a
source-name prefix (a file or directory path, ``cos://bucket/prefix``, ``cls://TOPIC``) to
``namespace/workload`` (or ``workload``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tools.logs.identity import Identity


@dataclass(frozen=True)
class Subject:
    """Namespace, workload, pod, container (any may be None), and the sources that are its own."""

    namespace: str | None = None
    workload: str | None = None
    pod: str | None = None
    container: str | None = None
    own_sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any((self.namespace, self.workload, self.pod, self.container))

    def owns_unlabelled(self, source: str) -> bool:
        """Whether records without identity read from ``source`` are the subject's."""
        return any(source.startswith(prefix) for prefix in self.own_sources)

    def owns(self, who: Identity, source: str) -> bool:
        """Whether a record with identity ``who``, read from ``source``, is the subject's."""
        matched = False
        for mine, theirs in (
            (self.namespace, who.namespace),
            (self.workload, who.workload),
            (self.pod, who.pod),
            (self.container, who.container),
        ):
            if mine is None or theirs is None:
                continue
            if mine != theirs:
                return False
            matched = True
        return matched or self.owns_unlabelled(source)

    def needles(self) -> list[bytes]:
        """Byte strings at least one of which a record of the subject must contain (a cheap prefilter)."""
        return [part.encode() for part in (self.namespace, self.workload, self.pod, self.container) if part]


def subject_for(
    owners: Mapping[str, str],
    *,
    namespace: str | None = None,
    workload: str | None = None,
    pod: str | None = None,
    container: str | None = None,
) -> Subject | None:
    """The subject named by a tool's arguments (None when none is named), with its configured sources."""
    if not any((namespace, workload, pod, container)):
        return None
    own = []
    for prefix, owner in owners.items():
        owner_ns, _, owner_workload = owner.rpartition("/")
        if (workload is None or owner_workload == workload) and (namespace is None or owner_ns in ("", namespace)):
            own.append(prefix)
    return Subject(namespace, workload, pod, container, tuple(own))
