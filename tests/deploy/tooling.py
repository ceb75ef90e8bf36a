"""The deployment checks' tools: the tools venv, the Helm renderer, linter baselines.

The tools (checkov, kubernetes-validate, hadolint, helm-python-sdk, compose-lint) live in
their own venv (``make deploy-tools``, ``$ALERTPILOT_TOOLS_VENV``), dclint in
``deploy/tools/node_modules`` (``$ALERTPILOT_NODE_TOOLS``). A missing tool skips its test
locally and fails it under CI, like ``require_binary``.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "alertpilot"
SCENARIOS = sorted(p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml"))
BASELINE = DEPLOY / "lint-baseline.yaml"
RELEASE, NAMESPACE = "alertpilot", "alertpilot"


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def tool(name: str) -> Path:
    """A command of the tools venv (``make deploy-tools``)."""
    venv = Path(os.environ.get("ALERTPILOT_TOOLS_VENV") or ROOT / ".venv-tools")
    path = venv / "bin" / name
    if not path.exists():
        _missing(f"needs {name} from the tools venv {venv} (make deploy-tools)")
    return path


def node_tool(name: str) -> Path:
    """A command of deploy/tools/node_modules (``make deploy-tools``, needs npm)."""
    base = Path(os.environ.get("ALERTPILOT_NODE_TOOLS") or DEPLOY / "tools" / "node_modules")
    path = base / ".bin" / name
    if not path.exists():
        _missing(f"needs {name} in {base} (make deploy-tools, with npm)")
    return path


def run(args: list[str | Path], cwd: Path = ROOT, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run a tool; its output is returned, never raised on."""
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def render(*values: Path, namespace: str = NAMESPACE) -> subprocess.CompletedProcess[str]:
    """``helm template`` of the chart with these values files (through the Helm library)."""
    flags: list[str | Path] = []
    for path in values:
        flags += ["--values", path]
    return run(
        [
            tool("python"),
            DEPLOY / "tools" / "render_chart.py",
            CHART,
            *flags,
            "--name",
            RELEASE,
            "--namespace",
            namespace,
        ]
    )


@functools.cache
def rendered(scenario: str) -> str:
    """The manifests of ``ci/<scenario>-values.yaml`` (rendered once per test session)."""
    result = render(CHART / "ci" / f"{scenario}-values.yaml")
    assert result.returncode == 0, result.stderr
    return result.stdout


def objects(scenario: str) -> list[dict[str, Any]]:
    """The rendered objects of a scenario."""
    return [doc for doc in yaml.safe_load_all(rendered(scenario)) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The objects of one kind."""
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of ``kind`` called ``name``."""
    (found,) = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return found


@dataclass(frozen=True)
class Finding:
    """One linter finding: rule id, the resource it is about, what the linter said."""

    id: str
    target: str
    message: str


def baseline(linter: str) -> list[dict[str, Any]]:
    """The accepted findings of one linter (deploy/lint-baseline.yaml)."""
    entries: list[dict[str, Any]] = yaml.safe_load(BASELINE.read_text())[linter]
    for entry in entries:
        assert entry.get("reason", "").strip(), f"{linter} {entry['id']}: every accepted finding needs a reason"
    return entries


def unaccepted(linter: str, findings: list[Finding]) -> tuple[list[Finding], list[str]]:
    """Findings the baseline does not accept, and baseline entries that match no finding."""
    entries = baseline(linter)

    def accepts(entry: dict[str, Any], finding: Finding) -> bool:
        return entry["id"] == finding.id and any(fnmatch.fnmatchcase(finding.target, t) for t in entry["targets"])

    new = [f for f in findings if not any(accepts(e, f) for e in entries)]
    stale = [
        f"{e['id']} {pattern}"
        for e in entries
        for pattern in e["targets"]
        if not any(e["id"] == f.id and fnmatch.fnmatchcase(f.target, pattern) for f in findings)
    ]
    return new, stale


def checkov(target: list[str | Path], *frameworks: str) -> list[Finding]:
    """checkov's failed checks on ``target`` (``-f FILE`` or ``-d DIR`` arguments)."""
    result = run([tool("checkov"), *target, "--framework", *frameworks, "-o", "json", "--quiet", "--compact"])
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout) if result.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    findings = []
    for report in reports:
        if not isinstance(report, dict) or "results" not in report:
            continue  # "no resources found" summary
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        for check in report["results"]["failed_checks"]:
            findings.append(Finding(check["check_id"], _target(check), check["check_name"]))
    return findings


def _target(check: dict[str, Any]) -> str:
    """What a finding is about: the resource, or for a secret the file and its flagged line."""
    if not check["check_id"].startswith("CKV_SECRET"):
        return str(check["resource"]).lstrip("/")
    path = Path(check["file_abs_path"])
    line = path.read_text().splitlines()[check["file_line_range"][0] - 1].strip()
    return f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}: {line}"
