"""Turn runs into cases: record a live run's tool answers, or capture a real incident.

``record``: run a case live with the offline playbook and keep every tool call with its
answer in ``recording.json`` — the recorded world for machines without the binaries.
``capture``: take a real incident's checkpointed tool calls and write a new case (the
alert as sent, a recorded world, expectations drafted from what was done) marked
``confirmed: false`` until a human has checked the expectations.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from evals.case import RECORDING, Case, CaseError, notice_time
from evals.network import replay_only
from state.config import Settings
from state.incident import IncidentState, ToolCall


def write_recording(path: Path, calls: list[ToolCall], origin: str) -> None:
    """Write ``calls`` (with their answers) as ``recording.json``."""
    document = {
        "origin": origin,
        "recorded_at": datetime.now(UTC).isoformat(),
        "calls": [c.model_dump(mode="json") for c in calls],
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


def record(case: Case) -> int:
    """Run ``case`` live with the offline playbook and save its tool answers; returns the call count."""
    from evals.episodes import run_case

    by_incident = {e.incident_id: e.calls for e in run_case(case, None, 1, "live")}  # alerts may share one
    calls = [call for incident in by_incident.values() for call in incident]
    write_recording(case.path / RECORDING, calls, f"live run of {case.id} (offline playbook)")
    return len(calls)


def _payload(state: IncidentState) -> dict[str, Any]:
    """The alert as its source sent it (Alertmanager keeps one entry per alert: re-wrap it in a group)."""
    alert = state.alert
    if alert.source != "alertmanager":
        return alert.raw
    return {
        "version": "4",
        "groupKey": alert.group_key or alert.fingerprint,
        "truncatedAlerts": 0,
        "status": alert.raw.get("status", alert.status),
        "receiver": "alertpilot",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [alert.raw],
    }


def draft_expectations(state: IncidentState, case_id: str) -> dict[str, Any]:
    """Expectations drafted from what the incident did: a human must confirm them."""
    reads, mutations = [], []
    for call in state.tool_calls:
        if call.status == "denied":
            continue
        if call.mutating:
            args = {k: v for k, v in call.args.items() if k != "idempotency_key" and v is not None}
            mutations.append({"tool": call.tool, "args": args})
        elif call.tool in ("execute_query", "execute_range_query") and "query" in call.args:
            entry = {"tool": call.tool, "args": {"query": {"promql": call.args["query"]}}}
            if entry not in reads:
                reads.append(entry)
        else:
            reads.append({"tool": call.tool, "args": {}})
    status = state.status if state.status in ("resolved", "escalated") else None
    draft: dict[str, Any] = {}
    if state.decisions:  # replay on the clock the incident ran on: from its first decision
        draft["delivered_after_s"] = max(0.0, (state.decisions[0].at - notice_time(state.alert)).total_seconds())
    return draft | {
        "id": case_id,
        "title": f"captured: {state.alert.name} on {state.alert.service or '-'} ({state.incident_id})",
        "template": "captured",
        "source": state.alert.source,
        "confirmed": False,
        "reads": reads,
        "mutations": mutations,
        "root_cause": list(state.diagnosis.entities) if state.diagnosis else [],
        "mitigation": None,
        "outcome": status,
    }


def capture(settings: Settings, incident_id: str, cases_dir: Path) -> Path:
    """Write incident ``incident_id`` as a new case under ``cases_dir``; returns its directory."""
    from agents.deps import Deps
    from graph.runner import open_runner
    from tools.registry import ToolRegistry

    deps = Deps(settings=settings, tools=ToolRegistry())  # reading checkpoints needs no live tools
    with open_runner(settings, deps) as runner:
        state = runner.state(incident_id)
    if state is None:
        raise KeyError(incident_id)
    case_id = f"captured-{incident_id}"
    path = cases_dir / case_id
    if path.exists():
        raise CaseError(f"{path}: already exists (remove it to capture again)")
    path.mkdir(parents=True)
    (path / "alert.json").write_text(json.dumps(_payload(state), indent=2, ensure_ascii=False, default=str) + "\n")
    # ``logs`` stays: which log sources diagnosis reads decides which calls it makes on replay
    # (the recording answers them; the files themselves are not needed).
    config = replay_only(
        settings.model_dump(mode="json", exclude={"home", "database", "world", "executor", "prometheus"})
    )
    # A captured case is only replayed: the recording answers every call, this executor is never
    # reached (dry-run would make the guard skip the recorded actions).
    config["executor"] = {"backend": "http", "url": "http://127.0.0.1:9/replay-only"}
    note = (
        "# Captured from a real incident; replay with --world recorded. Review expect.yaml, then set confirmed: true.\n"
    )
    (path / "config.yaml").write_text(note + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    (path / "expect.yaml").write_text(
        note + yaml.safe_dump(draft_expectations(state, case_id), sort_keys=False, allow_unicode=True)
    )
    write_recording(path / RECORDING, list(state.tool_calls), f"incident {incident_id}")
    (path / "README.md").write_text(
        f"# {case_id}\n\nCaptured from incident `{incident_id}` ({state.alert.name}, {state.alert.source}).\n\n"
        "**Unconfirmed**: expect.yaml repeats what the agent did. A human must check that it is what it "
        "*should* have done (reads, mutations, root cause, mitigation), then set `confirmed: true`.\n"
    )
    return path
