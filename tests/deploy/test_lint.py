"""Every deployment artefact rendered, validated and linted: chart, manifests, Dockerfile, compose.

Accepted findings live in deploy/lint-baseline.yaml with their reasons; anything else fails,
and so does a baseline entry that no longer matches (it would hide a future regression).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy.tooling import (
    CHART,
    DEPLOY,
    SCENARIOS,
    Finding,
    checkov,
    node_tool,
    rendered,
    run,
    tool,
    unaccepted,
)

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest the validator knows.
KUBERNETES = ["1.25.0", "1.37.0"]
CRDS = {"ServiceMonitor"}  # not in the Kubernetes OpenAPI schemas: checked in test_chart.py


def test_the_scenarios_cover_every_optional_part() -> None:
    assert {"default", "full", "tke", "scale-only"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict_is_clean(scenario: str) -> None:
    result = run(
        [tool("python"), DEPLOY / "tools" / "render_chart.py", CHART, "--lint",
         "--values", CHART / "ci" / f"{scenario}-values.yaml"]
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", KUBERNETES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_object_matches_the_kubernetes_openapi_schema(
    scenario: str, version: str, tmp_path: Path
) -> None:
    manifest = tmp_path / f"{scenario}.yaml"
    manifest.write_text(rendered(scenario))
    result = run([tool("kubernetes-validate"), "--strict", "-k", version, manifest])
    lines = (result.stdout + result.stderr).splitlines()
    passed = [line for line in lines if " passed for resource " in line]
    others = [line for line in lines if " passed for resource " not in line and line.strip()]
    assert result.returncode == 0, "\n".join(others)
    kinds = [d["kind"] for d in yaml.safe_load_all(manifest.read_text()) if d]
    assert len(passed) == len([k for k in kinds if k not in CRDS]), lines
    assert all(any(crd in line for crd in CRDS) for line in others), others


@pytest.mark.parametrize(
    ("field", "break_it"),
    [
        ("replicaz", lambda d: d["spec"].update(replicaz=2)),
        (
            "containerPort",
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="http"),
        ),
    ],
)
def test_the_validator_rejects_an_unknown_field_and_a_wrong_type(field: str, break_it: Any, tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(rendered("default")) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    break_it(deployment)
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    result = run([tool("kubernetes-validate"), "--strict", "-k", KUBERNETES[0], broken])
    assert result.returncode != 0
    assert field in result.stdout + result.stderr


def _checkov_inputs(tmp_path: Path) -> Path:
    """The Dockerfile and every scenario's manifests in one folder, as a user would scan them."""
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    for scenario in SCENARIOS:
        (tmp_path / f"{scenario}.yaml").write_text(rendered(scenario))
    return tmp_path


def test_checkov_finds_nothing_beyond_the_accepted_baseline(tmp_path: Path) -> None:
    findings = checkov(["-d", _checkov_inputs(tmp_path)], "dockerfile", "kubernetes")
    new, stale = unaccepted("checkov", findings)
    assert not new, "new checkov findings:\n" + "\n".join(f"{f.id} {f.target}: {f.message}" for f in new)
    assert not stale, f"baseline entries that match nothing (remove them): {stale}"


def test_the_base_image_default_is_a_fixed_tag() -> None:
    # checkov cannot read the ARG (CKV_DOCKER_7 is accepted for that reason): check it here.
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match
    image, _, tag = match[1].partition(":")
    assert image == "python" and re.fullmatch(r"3\.1[1-9]-slim-\w+", tag), match[1]


def test_no_secret_is_written_in_any_deployment_file() -> None:
    # compose/secrets/ holds a developer's real, git-ignored secrets once make-secrets.sh ran.
    findings = checkov(["-d", DEPLOY, "--skip-path", "node_modules", "--skip-path", "compose/secrets"], "secrets")
    findings += checkov(["-f", ROOT / "Dockerfile", ROOT / ".dockerignore"], "secrets")
    new, stale = unaccepted("checkov-secrets", findings)
    assert not new, "secrets in deployment files:\n" + "\n".join(f"{f.id} {f.target}" for f in new)
    assert not stale, f"baseline entries that match nothing (remove them): {stale}"


def test_the_secret_scan_does_find_a_token_pasted_into_the_compose_file(tmp_path: Path) -> None:
    pasted = (
        (DEPLOY / "compose.yaml")
        .read_text()
        .replace(
            "ALERTPILOT_CONFIG: /etc/alertpilot/alertpilot.yaml\n",
            "ALERTPILOT_CONFIG: /etc/alertpilot/alertpilot.yaml\n    GITHUB_TOKEN: ghp_16C7e42F292c6912E7710c838347Ae178B4a\n",
            1,
        )
    )
    (tmp_path / "compose.yaml").write_text(pasted)
    assert [f.id for f in checkov(["-f", tmp_path / "compose.yaml"], "secrets")]


def test_hadolint_is_clean() -> None:
    result = run([tool("hadolint"), "--failure-threshold", "style", ROOT / "Dockerfile"])
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_compose_file_matches_the_compose_specification() -> None:
    result = run([node_tool("dclint"), "-c", DEPLOY / "tools" / "dclintrc.json", DEPLOY / "compose.yaml"])
    assert result.returncode == 0 and "problem" not in result.stdout, result.stdout + result.stderr


def test_the_compose_schema_check_rejects_an_unknown_key(tmp_path: Path) -> None:
    broken = (DEPLOY / "compose.yaml").read_text().replace("restart: unless-stopped", "restart_policy: always", 1)
    (tmp_path / "compose.yaml").write_text(broken)
    result = run([node_tool("dclint"), "-c", DEPLOY / "tools" / "dclintrc.json", tmp_path / "compose.yaml"])
    assert result.returncode == 1 and "invalid-schema" in result.stdout


def test_compose_lint_finds_nothing_beyond_the_accepted_baseline(tmp_path: Path) -> None:
    # Lint a copy with its secrets made, so the env-file rules see real files.
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("node_modules", "secrets"))
    made = run(["sh", copy / "compose" / "make-secrets.sh"])
    assert made.returncode == 0, made.stderr
    result = run([tool("compose-lint"), "--format", "json", "--fail-on", "low", "compose.yaml"], cwd=copy)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == [], report["errors"]
    findings = [Finding(f["rule_id"], f["service"] or "", f["message"]) for f in report["findings"]]
    new, stale = unaccepted("compose-lint", findings)
    assert not new, "new compose-lint findings:\n" + "\n".join(f"{f.id} {f.target}: {f.message}" for f in new)
    assert not stale, f"baseline entries that match nothing (remove them): {stale}"
