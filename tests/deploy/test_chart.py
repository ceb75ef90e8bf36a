"""The Helm chart as an operator meets it: what it refuses, what it wires, how it locks pods down."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from state.config import load_settings
from tests.conftest import run_cli
from tests.deploy.tooling import CHART, NAMESPACE, RELEASE, SCENARIOS, named, objects, of_kind, render

WORKLOADS = ("Deployment", "StatefulSet")
SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|DATABASE__URL")


def values(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    return path


def pod_specs(scenario: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for kind in WORKLOADS
        for d in of_kind(objects(scenario), kind)
    ]


def env_of(docs: list[dict[str, Any]], deployment: str) -> dict[str, dict[str, Any]]:
    container = named(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container["env"]}


def config_of(scenario: str) -> dict[str, Any]:
    (config_map,) = of_kind(objects(scenario), "ConfigMap")
    return dict(yaml.safe_load(config_map["data"]["alertpilot.yaml"]))


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ("{}", "config.policy.allowed_namespaces: list at least one namespace"),
        ("config: {policy: {allowed_namespaces: [shop]}, database: {url: 'postgresql://u:p@db/x'}}", "config.database.url"),
        ("config: {policy: {allowed_namespaces: [shop]}}\nexecutor: {operations: [restart, reboot]}",
         'executor.operations: unknown operation "reboot"'),
        ("config: {policy: {allowed_namespaces: [shop]}}\nsecrets: {existingSecret: ''}", "secrets.existingSecret"),
        ("config: {policy: {allowed_namespaces: [shop]}}\nserve: {ingress: {enabled: true}}", "serve.ingress.hosts"),
    ],
)  # fmt: skip
def test_the_chart_refuses_unsafe_or_incomplete_values_naming_the_field(given: str, field: str, tmp_path: Path) -> None:
    result = render(values(tmp_path, given))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert field in line and "Traceback" not in line


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_object_sits_in_a_namespace_and_carries_the_release_labels(scenario: str) -> None:
    for doc in objects(scenario):
        meta = doc["metadata"]
        assert meta.get("namespace"), (doc["kind"], meta["name"])
        assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE, (doc["kind"], meta["name"])
    assert not of_kind(objects(scenario), "Secret"), "secrets are referenced, never rendered"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_runs_locked_down(scenario: str) -> None:
    for name, spec in pod_specs(scenario):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] in (True, False), name
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["privileged"] is False, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            assert not container["image"].endswith(":latest"), name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secrets_reach_pods_only_by_reference(scenario: str) -> None:
    for name, spec in pod_specs(scenario):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if not SECRET_ENV.search(env["name"]) or env["name"].endswith("_FILE"):
                    continue
                if "valueFrom" in env:
                    assert "secretKeyRef" in env["valueFrom"], (name, env["name"])
                else:  # the bundled database's URL is built from a password read from a Secret
                    assert env["name"] == "ALERTPILOT_DATABASE__URL" and "$(DATABASE_PASSWORD)" in env["value"]


def test_the_roles_run_the_commands_the_cli_has(tmp_path: Path) -> None:
    docs = objects("default")
    args = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["args"]
        for d in of_kind(docs, "Deployment")
    }
    assert args[f"{RELEASE}-serve"][:1] == ["serve"] and "--no-worker" in args[f"{RELEASE}-serve"]
    assert args[f"{RELEASE}-worker"][:1] == ["worker"]
    assert args[f"{RELEASE}-executor"][:2] == ["executor", "serve"]
    assert args[f"{RELEASE}-executor"][-2:] == ["--backend", "kubernetes"]
    for name, argv in args.items():
        # The real CLI parses every option the chart passes (--help stops before running).
        concrete = [a.replace("$(POD_NAME)", "worker-0") for a in argv]
        result = run_cli(*concrete, "--help", home=tmp_path)
        assert result.returncode == 0, (name, result.stdout + result.stderr)


def test_the_config_map_is_a_config_alertpilot_loads_pointing_at_the_executor_service(tmp_path: Path) -> None:
    docs = objects("full")
    path = tmp_path / "alertpilot.yaml"
    path.write_text(yaml.safe_dump(config_of("full")))
    settings = load_settings(path)
    executor = named(docs, "Service", f"{RELEASE}-executor")
    port = executor["spec"]["ports"][0]["port"]
    assert settings.executor.backend == "http"
    assert settings.executor.url == f"http://{RELEASE}-executor.{NAMESPACE}.svc:{port}"
    assert settings.executor.kubernetes.namespace == "shop"
    assert settings.policy.allowed_namespaces == ["shop", "payments"]
    assert settings.llm.api_key_env == "DASHSCOPE_API_KEY"
    container = named(docs, "Deployment", f"{RELEASE}-executor")["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == port
    assert str(port) in container["args"]


def test_serve_probes_healthz_and_the_service_and_ingress_reach_it() -> None:
    docs = objects("full")
    serve = named(docs, "Deployment", f"{RELEASE}-serve")["spec"]["template"]
    container = serve["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {
        "path": "/livez",
        "port": "http",
    }  # no restart loop without workers
    service = named(docs, "Service", RELEASE)
    assert service["spec"]["selector"].items() <= serve["metadata"]["labels"].items()
    ingress = named(docs, "Ingress", RELEASE)
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": RELEASE, "port": {"name": "http"}}
    monitor = named(docs, "ServiceMonitor", RELEASE)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0] == {"port": "http", "path": "/metrics", "interval": "30s"}


def test_workers_scale_with_a_disruption_budget_and_the_executor_stays_single() -> None:
    docs = objects("full")
    assert named(docs, "Deployment", f"{RELEASE}-worker")["spec"]["replicas"] == 4
    pdb = named(docs, "PodDisruptionBudget", f"{RELEASE}-worker")
    assert pdb["spec"]["maxUnavailable"] == 1
    executor = named(docs, "Deployment", f"{RELEASE}-executor")
    assert executor["spec"]["replicas"] == 1 and executor["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in executor["spec"]["template"]["spec"]["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-executor"
    # One worker needs no budget (it would block every node drain).
    assert of_kind(objects("scale-only"), "PodDisruptionBudget") == []


def test_network_policies_let_only_serve_and_workers_reach_the_executor() -> None:
    docs = objects("default")
    executor = named(docs, "NetworkPolicy", f"{RELEASE}-executor")
    (rule,) = executor["spec"]["ingress"]
    (source,) = rule["from"]
    expressions = {e["key"]: e["values"] for e in source["podSelector"]["matchExpressions"]}
    assert expressions == {"app.kubernetes.io/instance": [RELEASE], "app.kubernetes.io/component": ["serve", "worker"]}
    assert named(docs, "NetworkPolicy", f"{RELEASE}-worker")["spec"]["ingress"] == []
    # Every alertpilot pod is selected by a policy of its own.
    selected = {tuple(sorted(n["spec"]["podSelector"]["matchLabels"].items())) for n in of_kind(docs, "NetworkPolicy")}
    for deployment in of_kind(docs, "Deployment"):
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert tuple(sorted(labels.items())) in selected, deployment["metadata"]["name"]


def test_the_bundled_database_is_wired_by_service_name_and_secret() -> None:
    docs = objects("full")
    database = named(docs, "Service", f"{RELEASE}-postgresql")
    env = env_of(docs, f"{RELEASE}-worker")
    url = env["ALERTPILOT_DATABASE__URL"]["value"]
    assert url == f"postgresql://alertpilot:$(DATABASE_PASSWORD)@{RELEASE}-postgresql.{NAMESPACE}.svc:5432/alertpilot"
    assert database["spec"]["ports"][0]["port"] == 5432
    assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "alertpilot", "key": "postgres-password"}
    # Kubernetes expands $(VAR) only from variables defined earlier in the list.
    names = list(env)
    assert names.index("DATABASE_PASSWORD") < names.index("ALERTPILOT_DATABASE__URL")
    statefulset = named(docs, "StatefulSet", f"{RELEASE}-postgresql")
    assert named(docs, "NetworkPolicy", f"{RELEASE}-postgresql")["spec"]["podSelector"]["matchLabels"].items() <= (
        statefulset["spec"]["template"]["metadata"]["labels"].items()
    )


def test_an_external_database_url_comes_from_the_named_secret_key() -> None:
    env = env_of(objects("default"), f"{RELEASE}-serve")
    assert env["ALERTPILOT_DATABASE__URL"]["valueFrom"]["secretKeyRef"] == {"name": "alertpilot", "key": "database-url"}


def test_every_top_level_values_block_is_documented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    keys = [(i, line) for i, line in enumerate(lines) if re.match(r"^[A-Za-z]\w*:", line)]
    undocumented = [line for i, line in keys if not lines[i - 1].startswith("#")]
    assert len(keys) >= 15 and not undocumented, undocumented
