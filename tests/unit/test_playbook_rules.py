"""The offline playbook's general rules (docs/playbook.md): each conclusion from hand-made evidence.

Diagnosis rules are checked on :func:`agents.diagnosis_rules.conclude` with facts built
here; the planner rules on :func:`agents.rollback.plan_next`; the proxy signal on
:func:`agents.signal.read_signal` against a recorded tool answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.diagnosis_rules import Facts, conclude, is_leak_prone, rising_proxy
from agents.log_evidence import LogEvidence, config_writes, unreachable_hosts
from agents.metric_analysis import Anomaly
from agents.rollback import plan_next
from agents.signal import SignalReading, band_of, read_signal
from agents.signal_history import SignalHistory, unhealthy_streak, version_health
from agents.versions import VersionHistory, VersionRun
from state.alert import Alert
from state.incident import Attempt, Diagnosis, IncidentState, ToolCall, TriageResult
from state.policy import Policy
from tools.registry import RecordedTools, ToolSession

START = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
EXPR = 'sum(rate(http_requests_total{service="cart",code=~"5.."}[5m])) > 0.05'
MEM = 'max(container_memory_working_set_bytes{container="cart"}) / max(kube_pod_container_resource_limits{container="cart"})'


def alert(name: str = "HighErrorRate", expression: str | None = EXPR) -> Alert:
    return Alert(
        source="alertmanager", status="firing", name=name, service="cart", namespace="shop",
        starts_at=START, fingerprint="f", expression=expression,
    )  # fmt: skip


def own(baseline: float, during: float, query: str = "q") -> Anomaly:
    return Anomaly("alert expression", query, baseline, during)


def firing(value: float | None, query: str | None = EXPR, error: str = "") -> SignalReading:
    return SignalReading(query, value, None if query is None else value is not None, error)


def change(minutes_before: float, version: str = "v2", previous: str | None = "v1") -> VersionHistory:
    """A version history where ``previous`` ran for a day, then ``version`` from ``minutes_before`` the alert."""
    at = START - timedelta(minutes=minutes_before)
    runs = [VersionRun(previous, START - timedelta(days=1), at - timedelta(minutes=1))] if previous else []
    return VersionHistory([*runs, VersionRun(version, at, START + timedelta(minutes=5))], "build_info", "build_info")


def facts(
    a: Alert, reading: SignalReading, anomalies=(), history=None, evidence=None, proxy=None, signal=None
) -> Facts:
    history = history or VersionHistory()
    band = band_of(a, reading.query, None)
    health = version_health(signal, history.runs, band) if signal and history.runs else []
    return Facts(a, reading, list(anomalies), history, health, band, signal, evidence, proxy)


def signal_by_version(history: VersionHistory, values: dict[str, float], query: str = "q") -> SignalHistory:
    """The alert's own signal: one sample a minute at each version's value while it ran."""
    points = []
    for run in history.runs:
        t = run.start
        while t <= run.end:
            points.append((t.timestamp(), values[run.version]))
            t += timedelta(minutes=1)
    return SignalHistory(points, query)


def audit(who: str, verb: str, resource: str, name: str, minutes_before: float) -> dict:
    when = (START - timedelta(minutes=minutes_before)).isoformat().replace("+00:00", "Z")
    return {"who": who, "verb": verb, "resource": resource, "name": name, "when": when, "change": ""}


# ------------------------------------------------------------------ diagnosis rules


def test_a_signal_already_healthy_at_diagnosis_abstains() -> None:
    # comparison expression answers nothing now, but its window has data: it cleared on its own
    d = conclude(facts(alert(), SignalReading(EXPR, None, False), [own(0.004, 0.004)], change(9)))
    assert d.pattern == "healthy" and d.abstain and d.suspected_release is None


def test_no_data_for_the_signal_abstains_even_with_a_release() -> None:
    d = conclude(facts(alert(), SignalReading(EXPR, None, False), [], change(9)))
    assert d.pattern == "no_data" and "cannot verify" in d.abstain


def test_a_recent_release_is_blamed_with_the_version_before_it() -> None:
    d = conclude(facts(alert(), firing(0.23), [own(0.004, 0.23)], change(9, "v3.2", "v3.1")))
    assert (d.pattern, d.abstain, d.suspected_release, d.known_good_release) == ("release", "", "v3.2", "v3.1")
    assert d.entities == ["cart", "v3.2"] and d.verdict == "cause_found"


def test_a_hotfix_that_did_not_fix_is_skipped_back_to_the_last_healthy_version() -> None:
    at = [START - timedelta(hours=h) for h in (30, 3, 1)]
    history = VersionHistory(
        [VersionRun("v1", at[0], at[1] - timedelta(minutes=1)), VersionRun("v2", at[1], at[2] - timedelta(minutes=1)),
         VersionRun("v3", at[2], START + timedelta(minutes=5))], "build_info", "build_info",
    )  # fmt: skip
    signal = signal_by_version(history, {"v1": 0.004, "v2": 0.2, "v3": 0.21})
    d = conclude(facts(alert(), firing(0.21), [own(0.21, 0.21)], history, signal=signal))
    assert (d.pattern, d.suspected_release, d.known_good_release) == ("release", "v2", "v1")
    assert d.release_confidence >= 0.9 and "v3 did not recover it" in d.root_cause


def test_what_the_signal_did_during_a_rolling_update_belongs_to_the_version_rolled_out() -> None:
    # v1's pods keep running (and being scraped) for 5 minutes after v2's first pod started
    rolled = START - timedelta(minutes=62)
    history = VersionHistory(
        [VersionRun("v1", START - timedelta(days=1), rolled + timedelta(minutes=5)),
         VersionRun("v2", rolled, START + timedelta(minutes=5))], "kube_pod_container_info", "image",
    )  # fmt: skip
    points = [
        (t, 0.0 if t < rolled.timestamp() else 1.0)
        for t in range(
            int((START - timedelta(days=1)).timestamp()), int((START + timedelta(minutes=5)).timestamp()), 60
        )
    ]
    waiting = 'kube_pod_container_status_waiting_reason{reason!="CrashLoopBackOff"} > 0'
    a = alert("KubeContainerWaiting", waiting)
    d = conclude(facts(a, firing(1.0, waiting), [own(1.0, 1.0)], history, signal=SignalHistory(points, waiting)))
    assert (d.pattern, d.suspected_release, d.known_good_release) == ("release", "v2", "v1")


def test_an_audited_config_edit_without_a_release_abstains_naming_it_and_its_author() -> None:
    writes = config_writes(
        [audit("alice", "patch", "configmaps", "cart-config", 12), audit("bob", "get", "pods", "x", 5)]
    )
    evidence = LogEvidence(config_changes=writes, dependencies=["payments-db"])
    d = conclude(facts(alert(), firing(0.23), [own(0.23, 0.23)], None, evidence))
    assert d.pattern == "config_edit" and "alice" in d.abstain
    assert d.entities == ["cart", "cart-config", "alice"]  # the edit wins over a dependency guess


def test_a_config_edit_after_the_alert_is_not_its_cause() -> None:
    evidence = LogEvidence(config_changes=[audit("alice", "patch", "configmaps", "cart-config", -5)])
    d = conclude(facts(alert(), firing(0.23), [own(0.23, 0.23)], None, evidence))
    assert d.pattern == "undetermined" and d.abstain and d.verdict == "unresolved"  # no restart on a hunch


def test_errors_pointing_at_a_dependency_escalate_and_name_only_it() -> None:
    hosts = unreachable_hosts("dial tcp payments-db:5432: connect: connection refused", "cart")
    assert hosts == ["payments-db"]
    assert unreachable_hosts("dial tcp cart:8080: connect: connection refused", "cart") == []  # itself
    d = conclude(facts(alert(), firing(0.23), [own(0.23, 0.23)], None, LogEvidence(dependencies=hosts)))
    assert d.pattern == "dependency" and d.abstain and d.entities == ["payments-db"]


def test_a_confident_release_beats_a_dependency_error() -> None:
    evidence = LogEvidence(dependencies=["payments-db"])
    d = conclude(facts(alert(), firing(0.23), [own(0.004, 0.23)], change(9), evidence))
    assert d.pattern == "release" and not d.abstain


def test_a_memory_alert_with_an_hours_old_release_is_a_leak() -> None:
    a = alert("MemoryNearLimit", f"{MEM} > 0.9")
    d = conclude(facts(a, firing(0.96, a.expression), [own(0.96, 0.96)], change(300, "v3.0.1", "v3.0.0")))
    assert (d.pattern, d.suspected_release, d.known_good_release) == ("leak", "v3.0.1", "v3.0.0")
    assert d.entities == ["cart", "v3.0.1"] and not d.abstain
    # the same evidence on an error-ratio alert is no leak, and a release 5 h old explains nothing by itself
    d = conclude(facts(alert(), firing(0.23), [own(0.23, 0.23)], change(300)))
    assert d.pattern == "undetermined" and d.abstain
    assert is_leak_prone(alert("PodOOMKilled", None), None)
    # what runtimes leak the way memory leaks: goroutines, threads, file descriptors
    assert is_leak_prone(alert("GoGoroutineCountHigh", "go_goroutines > 1000"), "go_goroutines > 1000")
    assert is_leak_prone(alert("FdExhaustionClose", None), "process_open_fds / process_max_fds > 0.8")
    assert not is_leak_prone(alert(), EXPR)


def test_an_alert_without_a_metric_is_verified_on_the_probe_that_rose_or_abstains() -> None:
    probes = [Anomaly("latency_p99_s", "lat", 0.3, 0.35), Anomaly("memory_saturation", "mem", 0.45, 0.96)]
    proxy = rising_proxy(probes)
    assert proxy is not None and proxy.name == "memory_saturation"
    event = alert("PodOOMKilled", None)
    d = conclude(facts(event, firing(None, None), probes, change(9), proxy=proxy))
    assert d.pattern == "release" and (d.proxy_query, d.proxy_baseline, d.signal_value) == ("mem", 0.45, 0.96)
    d = conclude(facts(event, firing(None, None), [Anomaly("memory_saturation", "mem", 0.5, 0.5)]))
    assert d.pattern == "unverifiable" and d.abstain and rising_proxy([]) is None


def test_verify_reads_the_proxy_and_clears_it_back_near_its_baseline() -> None:
    diagnosis = Diagnosis(summary="s", proxy_query="mem", proxy_baseline=0.45)

    def reading(value: float) -> SignalReading:
        answer = {"resultType": "vector", "result": [{"metric": {}, "value": [0, str(value)]}]}
        call = ToolCall(
            seq=0, agent="verify", tool="execute_query", args={"query": "mem"}, status="success", result=answer
        )
        session = ToolSession(RecordedTools([call]), agent="verify", allowed=frozenset({"execute_query"}))
        return read_signal(session, alert("PodOOMKilled", None), diagnosis)

    assert reading(0.96).firing is True
    assert reading(0.5).firing is False  # within 1.5x of the pre-alert mean


# ------------------------------------------------------------------ planner rules


def incident(diagnosis: Diagnosis, attempts: int = 0) -> IncidentState:
    state = IncidentState(
        incident_id="inc-1", alert=alert(), diagnosis=diagnosis,
        triage=TriageResult(score=80, tier="P1", budget=4, dimensions={}),
    )  # fmt: skip
    state.attempts = [
        Attempt(n=i + 1, rung=1, action="restart", idempotency_key="k", started_at=START) for i in range(attempts)
    ]
    return state


def test_an_abstaining_diagnosis_plans_no_change() -> None:
    assert (
        plan_next(incident(Diagnosis(summary="s", pattern="dependency", abstain="payments-db is down")), Policy())
        is None
    )


def test_a_leak_restarts_then_rolls_back_to_the_release_before_it() -> None:
    leak = Diagnosis(summary="s", pattern="leak", suspected_release="v3.0.1", known_good_release="v3.0.0")
    first, second = plan_next(incident(leak), Policy()), plan_next(incident(leak, 1), Policy())
    assert first is not None and second is not None
    assert first.operation == "restart"
    assert (second.operation, second.params["target"]) == ("version_rollback", "v3.0.0")  # no scale-out
    undetermined = Diagnosis(summary="s", pattern="undetermined", abstain="nothing explains it")
    assert plan_next(incident(undetermined, 1), Policy()) is None  # no scale-out on a hunch


def test_a_leak_the_history_ties_to_a_release_goes_straight_to_the_rollback() -> None:
    # the version before held flat and this one climbs: the cause is known, a restart would only reset it
    leak = Diagnosis(
        summary="s", pattern="leak", suspected_release="v2.8.0", known_good_release="v2.7.5",
        cause={"by_history": True, "leak_tied_to_release": True, "reset_seen": False},
    )  # fmt: skip
    first = plan_next(incident(leak), Policy())
    assert first is not None and (first.operation, first.params["target"]) == ("version_rollback", "v2.7.5")


def climbing(runs: list[VersionRun], slopes: dict[str, float], start: float) -> SignalHistory:
    """One sample a minute; each run starts from ``start`` (a deploy restarts the pods) and climbs at its slope."""
    points = []
    for run in runs:
        t, value = run.start, start
        while t <= run.end:
            points.append((t.timestamp(), value))
            t += timedelta(minutes=1)
            value += slopes[run.version] / 60
    return SignalHistory(points, "go_goroutines")


def test_a_leaking_version_under_the_threshold_is_unhealthy_when_the_alert_is_a_leak() -> None:
    # v2.7.5 flat for days; v2.8.0 leaks 42/h; the v2.8.1 hotfix restarts the pods and leaks at the same slope
    day = timedelta(days=1)
    runs = [
        VersionRun("v2.7.5", START - 5 * day, START - 2 * day),
        VersionRun("v2.8.0", START - 2 * day + timedelta(minutes=1), START - day),
        VersionRun("v2.8.1", START - day + timedelta(minutes=1), START + timedelta(minutes=5)),
    ]
    signal = climbing(runs, {"v2.7.5": 0.0, "v2.8.0": 42.0, "v2.8.1": 42.0}, 182.0)
    a = alert("GoGoroutineCountHigh", "go_goroutines > 1000")
    band = band_of(a, a.expression, 182.0)
    # judged by its mean, the hotfix looks healthy (its mean is under the threshold): no streak
    assert unhealthy_streak(version_health(signal, runs, band), START) is None
    streak = unhealthy_streak(version_health(signal, runs, band, climb_per_h=42.0), START)
    assert streak is not None and streak.previous_good is not None
    assert (streak.began.version, streak.previous_good.version) == ("v2.8.0", "v2.7.5")


def test_a_step_minutes_before_the_alert_is_not_diluted_by_the_calm_before_it() -> None:
    from agents.metric_analysis import recent_window, window_means

    # traffic steps 1180 → 3070 req/s three minutes before a TKE alarm fired (3 periods of 60 s over its threshold)
    a = alert("CPU 利用率(占 limit)", None)
    step = START - timedelta(minutes=3)
    values = [[(START + timedelta(minutes=m)).timestamp(), "3070" if START + timedelta(minutes=m) >= step else "1180"]
              for m in range(-60, 2)]  # fmt: skip
    split = START - timedelta(minutes=15)
    baseline, diluted = window_means([{"values": values}], split)
    assert baseline == 1180 and diluted is not None and diluted < 1.5 * 1180  # the whole 15-minute lead: "steady"
    _, during = window_means([{"values": values}], split, recent_window(a, split))
    assert during is not None and during > 1.5 * baseline  # the alert's own five minutes: it rose


def test_a_scale_out_for_load_is_judged_by_the_threshold_not_the_pre_surge_baseline() -> None:
    from agents.verify import _band

    capacity = Diagnosis(summary="s", pattern="capacity", signal_baseline=36.0, signal_threshold=85.0)
    state = incident(capacity)
    state.alert = alert("CPU", "max(cpu_util) > 85")
    band = _band(state)
    assert band.near_baseline(70.0) and not band.near_baseline(90.0)  # the surge still runs: 70 % is fixed
    release = Diagnosis(summary="s", pattern="release", signal_baseline=36.0, signal_threshold=85.0)
    other = incident(release)
    other.alert = state.alert
    assert not _band(other).near_baseline(70.0)  # a release fix must bring it back near 36 %
