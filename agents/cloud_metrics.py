"""Tencent Cloud Monitor's TKE metrics as the PromQL over cAdvisor, kube-state-metrics and node-exporter.

A TKE metric alarm names a Cloud Monitor metric (``K8sPodRateMemUsageLimit``, documented as
``k8s_pod_rate_mem_usage_limit``: the pod's memory use over its limit, in percent). Where
Prometheus scrapes the same cluster, the signal can be read (and re-read after an action)
from the series the metric is computed from. Each entry is the documented meaning written
over the standard series, at the documented level:

- pod metrics (cloud.tencent.com/document/product/248/53821): one pod's figure, so the worst
  (``max``) of the subject's pods;
- workload metrics (.../248/53822, namespace QCE/TKE2, dimensions ``workload_name``,
  ``workload_kind``, ``namespace``): the whole workload, so the ``sum`` over its pods
  (``K8sWorkloadCpuCoreUsed`` is the cores all its pods use); "of the cluster" ratios divide
  by what the cluster's nodes can allocate;
- node metrics (.../248/53825, dimension ``node``, a TKE node's name being its private IP):
  node-exporter's CPU and memory utilisation of that node.

The selector is the subject's pods (or node), so a restarted pod's successor is read too.
Values keep the metric's documented unit: percent stays percent, ``MB`` is MiB, bandwidth
``MBit/s``.
"""

from __future__ import annotations

import re

from state.subject import Subject, pod_pattern

_NOT_PAUSE = 'container!="",container!="POD"'
_CPU = f"rate(container_cpu_usage_seconds_total{{SEL,{_NOT_PAUSE}}}[5m])"
_WSS = f"container_memory_working_set_bytes{{SEL,{_NOT_PAUSE}}}"
_USAGE = f"container_memory_usage_bytes{{SEL,{_NOT_PAUSE}}}"
_RESTARTS = "kube_pod_container_status_restarts_total{SEL}"
_MB = 1048576  # Cloud Monitor's MB (memory sizes are reported in MiB)


def _limit(resource: str) -> str:
    return f'kube_pod_container_resource_limits{{SEL,resource="{resource}"}}'


def _request(resource: str) -> str:
    return f'kube_pod_container_resource_requests{{SEL,resource="{resource}"}}'


def _allocatable(resource: str) -> str:
    return f'sum(kube_node_status_allocatable{{resource="{resource}"}})'


def _network(direction: str, what: str) -> str:
    # cAdvisor reports a pod's network once, on its sandbox: no container filter
    return f"rate(container_network_{direction}_{what}_total{{SEL}}[5m])"


# normalized metric name (lower case, no separators) -> PromQL with SEL for the subject's pods
POD_EQUIVALENTS: dict[str, str] = {
    "k8spodratememusagelimit": f"100 * max({_USAGE}) / max({_limit('memory')})",
    "k8spodratememnocachelimit": f"100 * max({_WSS}) / max({_limit('memory')})",
    "k8spodratememusagerequest": f"100 * max({_USAGE}) / max({_request('memory')})",
    "k8spodratememnocacherequest": f"100 * max({_WSS}) / max({_request('memory')})",
    "k8spodmemusagebytes": f"max({_USAGE}) / {_MB}",
    "k8spodmemnocachebytes": f"max({_WSS}) / {_MB}",
    "k8spodcpucoreused": f"max({_CPU})",
    "k8spodratecpucoreusedlimit": f"100 * max({_CPU}) / max({_limit('cpu')})",
    "k8spodratecpucoreusedrequest": f"100 * max({_CPU}) / max({_request('cpu')})",
    "k8spodrestarttotal": f"max({_RESTARTS})",
}
# a workload's figure is the sum over its pods
WORKLOAD_EQUIVALENTS: dict[str, str] = {
    "k8sworkloadcpucoreused": f"sum({_CPU})",
    "k8sworkloadmemusagebytes": f"sum({_USAGE}) / {_MB}",
    "k8sworkloadmemnocachebytes": f"sum({_WSS}) / {_MB}",
    "k8sworkloadpodrestarttotal": f"sum({_RESTARTS})",
    "k8sworkloadratecpucoreusedcluster": f"100 * sum({_CPU}) / {_allocatable('cpu')}",
    "k8sworkloadratememusagebytescluster": f"100 * sum({_USAGE}) / {_allocatable('memory')}",
    "k8sworkloadratememnocachecluster": f"100 * sum({_WSS}) / {_allocatable('memory')}",
    "k8sworkloadnetworkreceivebytesbw": f"sum({_network('receive', 'bytes')}) * 8 / 1000000",
    "k8sworkloadnetworktransmitbytesbw": f"sum({_network('transmit', 'bytes')}) * 8 / 1000000",
    "k8sworkloadnetworkreceivepackets": f"sum({_network('receive', 'packets')})",
    "k8sworkloadnetworktransmitpackets": f"sum({_network('transmit', 'packets')})",
}
# node-exporter's view of one node (SEL: its instance)
NODE_EQUIVALENTS: dict[str, str] = {
    "k8snodecpuusage": '100 * (1 - avg(rate(node_cpu_seconds_total{SEL,mode="idle"}[5m])))',
    "k8snodememusage": "100 * (1 - max(node_memory_MemAvailable_bytes{SEL}) / max(node_memory_MemTotal_bytes{SEL}))",
}
EQUIVALENTS = POD_EQUIVALENTS | WORKLOAD_EQUIVALENTS | NODE_EQUIVALENTS
# when the usage series is absent, the working set stands for it (what OOM decisions use)
_FALLBACK = {"container_memory_usage_bytes": "container_memory_working_set_bytes"}


def _key(metric: str) -> str:
    return re.sub(r"[^a-z0-9]", "", metric.lower())


def _selector(key: str, subject: Subject) -> str | None:
    """The label matchers naming the subject's series for metric ``key`` (None: the subject has none)."""
    if key in NODE_EQUIVALENTS:
        node = subject.node or (subject.name if subject.kind == "node" else None)
        if not node:
            return None
        return f'instance=~"{re.escape(node).replace(chr(92), chr(92) * 2)}(:[0-9]+)?"'
    if not subject.name or subject.kind != "workload":
        return None
    parts = [f'namespace="{subject.namespace}"'] if subject.namespace else []
    parts.append(f'pod=~"{pod_pattern(subject.name, subject.workload_kind)}"')
    return ",".join(parts)


def equivalents(metric: str, subject: Subject) -> list[str]:
    """PromQL expressions that measure Cloud Monitor ``metric`` for ``subject`` (none when unknown)."""
    key = _key(metric)
    template = EQUIVALENTS.get(key)
    selector = _selector(key, subject) if template else None
    if template is None or selector is None:
        return []
    query = template.replace("SEL", selector)
    out = [query]
    for usage, fallback in _FALLBACK.items():
        if usage in query:
            out.append(query.replace(usage, fallback))
    return out
