"""Tencent Cloud Monitor's TKE metrics as the PromQL over cAdvisor and kube-state-metrics that measures the same.

A TKE metric alarm names a Cloud Monitor metric (``K8sPodRateMemUsageLimit``, documented as
``k8s_pod_rate_mem_usage_limit``: the pod's memory use over its limit, in percent). Where
Prometheus scrapes the same cluster, the signal can be read (and re-read after an action)
from the series the metric is computed from. Each entry is the documented meaning
(cloud.tencent.com/document/product/248/53821, tencentcloud.com/document/product/457/34025)
written over the standard series; the selector is the subject's pods, so a restarted pod's
successor is read too. Values keep the metric's unit (percent stays percent).
"""

from __future__ import annotations

import re

from state.subject import Subject, pod_pattern

_NOT_PAUSE = 'container!="",container!="POD"'
_CPU = f"rate(container_cpu_usage_seconds_total{{SEL,{_NOT_PAUSE}}}[5m])"
_WSS = f"container_memory_working_set_bytes{{SEL,{_NOT_PAUSE}}}"
_USAGE = f"container_memory_usage_bytes{{SEL,{_NOT_PAUSE}}}"


def _limit(resource: str) -> str:
    return f'kube_pod_container_resource_limits{{SEL,resource="{resource}"}}'


def _request(resource: str) -> str:
    return f'kube_pod_container_resource_requests{{SEL,resource="{resource}"}}'


# normalized metric name (lower case, no separators) -> PromQL with SEL for the subject's pods
EQUIVALENTS: dict[str, str] = {
    "k8spodratememusagelimit": f"100 * max({_USAGE}) / max({_limit('memory')})",
    "k8spodratememnocachelimit": f"100 * max({_WSS}) / max({_limit('memory')})",
    "k8spodratememusagerequest": f"100 * max({_USAGE}) / max({_request('memory')})",
    "k8spodratememnocacherequest": f"100 * max({_WSS}) / max({_request('memory')})",
    "k8spodmemusagebytes": f"max({_USAGE})",
    "k8spodmemnocachebytes": f"max({_WSS})",
    "k8spodcpucoreused": f"max({_CPU})",
    "k8spodratecpucoreusedlimit": f"100 * max({_CPU}) / max({_limit('cpu')})",
    "k8spodratecpucoreusedrequest": f"100 * max({_CPU}) / max({_request('cpu')})",
    "k8spodrestarttotal": "max(kube_pod_container_status_restarts_total{SEL})",
}
# when the usage series is absent, the working set stands for it (what OOM decisions use)
_FALLBACK = {"container_memory_usage_bytes": "container_memory_working_set_bytes"}


def _key(metric: str) -> str:
    return re.sub(r"[^a-z0-9]", "", metric.lower())


def equivalents(metric: str, subject: Subject) -> list[str]:
    """PromQL expressions that measure Cloud Monitor ``metric`` for ``subject`` (none when unknown)."""
    template = EQUIVALENTS.get(_key(metric))
    if template is None or not subject.name or subject.kind != "workload":
        return []
    parts = [f'namespace="{subject.namespace}"'] if subject.namespace else []
    parts.append(f'pod=~"{pod_pattern(subject.name, subject.workload_kind)}"')
    query = template.replace("SEL", ",".join(parts))
    out = [query]
    for usage, fallback in _FALLBACK.items():
        if usage in query:
            out.append(query.replace(usage, fallback))
    return out
