"""A local clone as a release source: tags are releases, merge commits are pull requests.

A tag's annotation is the release body (PR numbers are read from it as from GitHub
release notes); otherwise the commits between the previous tag and this one are mapped
to PRs by their messages ("Merge pull request #12 ..." or a squash "... (#12)"). A PR's
base is the merge's first parent and its head the second (a squash commit's parent and
itself).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tools.registry import ToolError
from tools.release_source import PullFile, PullInfo, ReleaseInfo, pr_number_from_commit, pr_numbers_from_text

GIT_TIMEOUT_S = 30
MAX_COMMITS = 500
_SEP = "\x1e"


class LocalGitSource:
    """Release source over a local git clone (``git`` on PATH)."""

    def __init__(self, path: Path, repo: str = "") -> None:
        self.path = Path(path)
        self.repo = repo
        self._pr_commits: dict[int, str] | None = None

    def _git(self, *args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(self.path), *args],
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError(f"git: cannot run git in {self.path}: {exc}") from None
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
            raise ToolError(f"git {args[0]} in {self.path}: {reason}")
        return done.stdout

    def tags(self) -> list[str]:
        """Tags, newest version first."""
        return [t for t in self._git("tag", "--list", "--sort=-v:refname").splitlines() if t.strip()]

    def release(self, repo: str, tag: str | None) -> ReleaseInfo:
        """The tag ``tag`` (the newest tag when None), with PR numbers from its annotation, else its commits."""
        tags = self.tags()
        if not tags:
            raise ToolError(f"git: {self.path} has no tags (the latest release is a tag)")
        tag = tag or tags[0]
        if tag not in tags:
            raise ToolError(f"git: release {tag} of {repo} not found (no such tag)")
        index = tags.index(tag)
        previous = tags[index + 1] if index + 1 < len(tags) else None
        annotated = self._git("cat-file", "-t", tag).strip() == "tag"  # a lightweight tag has no notes
        body = self._git("tag", "--list", "--format=%(contents)", tag).strip() if annotated else ""
        subject = self._git("log", "-1", "--format=%s", tag).strip()
        info = ReleaseInfo(
            repo=repo,
            tag=tag,
            name=body.splitlines()[0] if body else subject,
            body=body,
            url=f"file://{self.path}#{tag}",
            published_at=self._git("log", "-1", "--format=%cI", tag).strip() or None,
            previous_tag=previous,
        )
        info.pulls = pr_numbers_from_text(body)
        if info.pulls:
            info.pulls_from = "body"
        else:
            span = f"{previous}..{tag}" if previous else tag
            info.pulls = [n for n, _ in self._merges(span)]
            info.pulls_from = "compare" if info.pulls else "none"
        return info

    def _merges(self, span: str) -> list[tuple[int, str]]:
        """(PR number, commit sha) of commits in ``span`` that name a PR, oldest first."""
        out = self._git("log", "--reverse", f"--max-count={MAX_COMMITS}", f"--format=%H%x1f%B{_SEP}", span)
        found: list[tuple[int, str]] = []
        for record in out.split(_SEP):
            if "\x1f" not in record:
                continue
            sha, message = record.strip().split("\x1f", 1)
            number = pr_number_from_commit(message)
            if number is not None and all(n != number for n, _ in found):
                found.append((number, sha))
        return found

    def _commit_of(self, number: int) -> str:
        if self._pr_commits is None:
            self._pr_commits = dict(self._merges("--all"))
        sha = self._pr_commits.get(number)
        if sha is None:
            raise ToolError(f"git: pull request #{number} not found (no commit names it)")
        return sha

    def pull(self, repo: str, number: int) -> PullInfo:
        """The PR merged by the commit that names ``#number``."""
        sha = self._commit_of(number)
        parents = self._git("log", "-1", "--format=%P", sha).split()
        message = self._git("log", "-1", "--format=%B", sha).strip()
        lines = message.splitlines()
        title = lines[0] if lines else ""
        if len(parents) > 1:  # merge commit: its title is in the body after "Merge pull request #n from ..."
            body_lines = [line for line in lines[1:] if line.strip()]
            title = body_lines[0] if body_lines else title
        base, head = (parents[0], parents[1]) if len(parents) > 1 else (parents[0] if parents else sha, sha)
        files = [f for f in self._git("diff", "--name-only", base, head).splitlines() if f]
        return PullInfo(
            number=number,
            title=re.sub(r"\s*\(#\d+\)\s*$", "", title),
            body="\n".join(lines[1:]).strip(),
            author=self._git("log", "-1", "--format=%an", sha).strip(),
            url=f"file://{self.path}#{sha}",
            state="closed",
            merged_at=self._git("log", "-1", "--format=%cI", sha).strip() or None,
            base_sha=base,
            head_sha=head,
            changed_files=len(files),
        )

    def pull_files(self, repo: str, number: int) -> list[PullFile]:
        """Files of the PR with per-file patches (``git diff base head``)."""
        pr = self.pull(repo, number)
        files: list[PullFile] = []
        for row in self._git("diff", "--numstat", "-z", "--no-renames", pr.base_sha, pr.head_sha).split("\0"):
            parts = row.split("\t")
            if len(parts) != 3:
                continue
            added, deleted, name = parts
            status = self._status(pr.base_sha, pr.head_sha, name)
            patch = self._patch(pr.base_sha, pr.head_sha, name) if added != "-" else None
            files.append(
                PullFile(
                    filename=name,
                    status=status,
                    additions=int(added) if added.isdigit() else 0,
                    deletions=int(deleted) if deleted.isdigit() else 0,
                    patch=patch,
                    patch_complete=patch is not None,
                )
            )
        return files

    def _status(self, base: str, head: str, name: str) -> str:
        letter = (self._git("diff", "--name-status", "--no-renames", base, head, "--", name).split() or ["M"])[0]
        return {"A": "added", "D": "removed", "M": "modified"}.get(letter[:1], "modified")

    def _patch(self, base: str, head: str, name: str) -> str:
        """The hunks of one file (headers dropped, as GitHub's ``patch`` field has them)."""
        out = self._git("diff", "--no-color", "--no-renames", base, head, "--", name)
        start = out.find("\n@@")
        return out[start + 1 :] if start >= 0 else ""

    def pull_diff(self, repo: str, number: int) -> str:
        """The PR's whole unified diff."""
        pr = self.pull(repo, number)
        return self._git("diff", "--no-color", pr.base_sha, pr.head_sha)

    def file_at(self, repo: str, path: str, ref: str) -> str:
        """Text of ``path`` at ``ref``."""
        return self._git("show", f"{ref}:{path}")
