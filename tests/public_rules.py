"""Alerting expressions exactly as public rule sets ship them, for the prometheus world's tests.

kube-prometheus-stack's are rendered with the chart defaults (``job="kube-state-metrics"``,
``defaultRules.appNamespacesTarget: ".*"``, ``fsSelector: 'fstype!=""'``) from
prometheus-community/helm-charts ``charts/kube-prometheus-stack/templates/prometheus/rules-1.14/``
at cf408a290aec489277a94450bb3511432477a53a (chart 88.5.3), as the corpus cases cite them.
"""

from __future__ import annotations

# kubernetes-resources.yaml: the share of CFS periods throttled, over a threshold written as arithmetic
CPU_THROTTLING_HIGH = (
    "sum without (id, metrics_path, name, image, endpoint, job, node) (topk by (cluster, namespace, pod, container, "
    'instance) (1, increase(container_cpu_cfs_throttled_periods_total{container!="",job="kubelet",'
    'metrics_path="/metrics/cadvisor"}[5m]))) / on (cluster, namespace, pod, container, instance) group_left () '
    "sum without (id, metrics_path, name, image, endpoint, job, node) (topk by (cluster, namespace, pod, container, "
    'instance) (1, increase(container_cpu_cfs_periods_total{job="kubelet",metrics_path="/metrics/cadvisor"}[5m]))) '
    "> (25 / 100)"
)
# kubernetes-apps.yaml (chart 88.5.3): Pending/Unknown, or Running and not ready, unless scheduling-gated
KUBE_POD_NOT_READY = (
    "sum by (namespace, pod, job, cluster) (max by (namespace, pod, job, cluster) (kube_pod_status_phase"
    '{job="kube-state-metrics",namespace=~".*",phase=~"Pending|Unknown"} or (kube_pod_status_phase'
    '{job="kube-state-metrics",namespace=~".*",phase="Running"} == 1 and on (namespace, pod, cluster) '
    'kube_pod_status_ready{condition="true",job="kube-state-metrics",namespace=~".*"} == 0)) * on (namespace, pod, '
    "cluster) group_left () topk by (namespace, pod, cluster) (1, max by (namespace, pod, owner_kind, cluster) "
    '(kube_pod_owner{owner_kind!="Job"}))) > 0 unless on (namespace, pod, cluster) kube_pod_status_reason'
    '{job="kube-state-metrics",namespace=~".*",reason="SchedulingGated"} == 1'
)
# kubernetes-monitoring/kubernetes-mixin alerts/apps_alerts.libsonnet, as kube-prometheus renders it
KUBE_POD_NOT_READY_MIXIN = (
    "sum by (namespace, pod, cluster) (max by(namespace, pod, cluster) (kube_pod_status_phase"
    '{job="kube-state-metrics", phase=~"Pending|Unknown|Failed"}) * on(namespace, pod, cluster) '
    "group_left(owner_kind) topk by(namespace, pod, cluster) (1, max by(namespace, pod, owner_kind, cluster) "
    '(kube_pod_owner{owner_kind!="Job"}))) > 0'
)
# kubernetes-apps.yaml
KUBE_STATEFULSET_REPLICAS_MISMATCH = (
    '(kube_statefulset_status_replicas_ready{job="kube-state-metrics",namespace=~".*"} != '
    'kube_statefulset_replicas{job="kube-state-metrics",namespace=~".*"}) and '
    '(changes(kube_statefulset_status_replicas_updated{job="kube-state-metrics",namespace=~".*"}[10m]) == 0)'
)
# kubernetes-resources.yaml: requests over allocatable (few control-plane nodes), or over allocatable minus the largest node
KUBE_CPU_OVERCOMMIT = (
    "((sum by (cluster) (namespace_cpu:kube_pod_container_resource_requests:sum) - sum by (cluster) "
    '(kube_node_status_allocatable{job="kube-state-metrics",resource="cpu"}) > 0) and count by (cluster) '
    '(max by (cluster, node) (kube_node_role{job="kube-state-metrics",role="control-plane"})) < 3) or '
    "(sum by (cluster) (namespace_cpu:kube_pod_container_resource_requests:sum) - ((sum by (cluster) "
    '(kube_node_status_allocatable{job="kube-state-metrics",resource="cpu"}) - max by (cluster) '
    '(kube_node_status_allocatable{job="kube-state-metrics",resource="cpu"})) > 0) > 0)'
)
# general.rules.yaml
INFO_INHIBITOR = (
    'group by (namespace) (ALERTS{severity="info"} == 1) unless on (namespace) group by (namespace) '
    '(ALERTS{alertname!="InfoInhibitor",alertstate="firing",severity=~"warning|critical"} == 1)'
)
_FS = 'fstype!="",job="node-exporter",mountpoint!=""'
# node-exporter.yaml
NODE_FILESYSTEM_ALMOST_OUT_OF_SPACE = (
    f"(node_filesystem_avail_bytes{{{_FS}}} / node_filesystem_size_bytes{{{_FS}}} * 100 < 5 and "
    f"node_filesystem_readonly{{{_FS}}} == 0)"
)
NODE_FILESYSTEM_SPACE_FILLING_UP = (
    f"(node_filesystem_avail_bytes{{{_FS}}} / node_filesystem_size_bytes{{{_FS}}} * 100 < 10 and "
    f"predict_linear(node_filesystem_avail_bytes{{{_FS}}}[6h], 4 * 60 * 60) < 0 and "
    f"node_filesystem_readonly{{{_FS}}} == 0)"
)
# kubernetes-system-kubelet.yaml: running pods over the node's pod capacity, joined to the node by kubelet_node_name
KUBELET_TOO_MANY_PODS = (
    '(max by (cluster, instance) (kubelet_running_pods{job="kubelet",metrics_path="/metrics"} > 1) * on '
    "(cluster, instance) group_left (node) max by (cluster, instance, node) (kubelet_node_name"
    '{job="kubelet",metrics_path="/metrics"})) / on (cluster, node) group_left () max by (cluster, node) '
    '(kube_node_status_capacity{job="kube-state-metrics",resource="pods"} != 1) > 0.95'
)
# blackbox-exporter's certificate rule as teams write it (days left, rounded to a tenth)
SSL_CERT_EXPIRING = "0 <= round((last_over_time(probe_ssl_earliest_cert_expiry[10m]) - time()) / 86400, 0.1) < 3"
