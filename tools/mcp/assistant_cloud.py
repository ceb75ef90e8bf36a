"""Read-only Tencent Cloud answers for the voice assistant, spoken in short sentences.

Each function calls tencentcloud-sdk-python with the speaking user's own credentials
(:class:`~tools.tencent.TencentAccess`) and returns text a voice robot can read out.
"""

from __future__ import annotations

import time
from typing import Any

from tools.registry import ToolError
from tools.tencent import ClsSearch, TencentAccess, sdk_error, tke_client

REGION_ZH = {
    "ap-guangzhou": "广州", "ap-shanghai": "上海", "ap-beijing": "北京", "ap-chengdu": "成都",
    "ap-nanjing": "南京", "ap-hongkong": "香港", "ap-singapore": "新加坡", "na-siliconvalley": "硅谷",
}  # fmt: skip
CLUSTER_STATUS_ZH = {
    "Running": "运行中",
    "Creating": "创建中",
    "Abnormal": "异常",
    "Deleting": "删除中",
    "Idling": "闲置",
}
NODE_STATE_ZH = {"running": "运行中", "initializing": "初始化中", "failed": "异常"}
KIND_ZH = {"business": "业务", "event": "事件", "audit": "审计"}


def _call(client: Any, action: str, request: Any) -> Any:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    try:
        return getattr(client, action)(request)
    except TencentCloudSDKException as exc:
        raise sdk_error(exc) from None


def clusters(access: TencentAccess, language: str) -> str:
    """TKE DescribeClusters in ``access.region``, spoken."""
    from tencentcloud.tke.v20180525 import models

    response = _call(tke_client(access), "DescribeClusters", models.DescribeClustersRequest())
    items = response.Clusters or []
    place = REGION_ZH.get(access.region, access.region) if language == "zh" else access.region
    if not items:
        return f"{place}地域没有集群。" if language == "zh" else f"There are no clusters in {place}."
    parts = []
    for c in items[:8]:
        if language == "zh":
            status = CLUSTER_STATUS_ZH.get(c.ClusterStatus, c.ClusterStatus)
            parts.append(f"{c.ClusterName}，{status}，{c.ClusterNodeNum or 0}个节点")
        else:
            parts.append(f"{c.ClusterName}, {c.ClusterStatus}, {c.ClusterNodeNum or 0} nodes")
    total = response.TotalCount or len(items)
    if language == "zh":
        return f"{place}地域有{total}个集群：" + "；".join(parts) + "。"
    return f"{place} has {total} cluster{'s' if total != 1 else ''}: " + "; ".join(parts) + "."


def nodes(access: TencentAccess, cluster_id: str, language: str) -> str:
    """TKE DescribeClusterInstances for ``cluster_id``: healthy count, failed nodes and their pools."""
    from tencentcloud.tke.v20180525 import models

    request = models.DescribeClusterInstancesRequest()
    request.ClusterId = cluster_id
    request.Limit = 100
    response = _call(tke_client(access), "DescribeClusterInstances", request)
    items = response.InstanceSet or []
    bad = [n for n in items if (n.InstanceState or "").lower() != "running"]
    total = response.TotalCount or len(items)
    if language == "zh":
        text = f"集群 {cluster_id} 有{total}个节点，{total - len(bad)}个运行正常。"
        for n in bad[:5]:
            state = NODE_STATE_ZH.get((n.InstanceState or "").lower(), n.InstanceState)
            text += f"节点 {n.InstanceId} {state}"
            text += f"，原因：{n.FailedReason}" if n.FailedReason else ""
            text += f"，属于节点池 {n.NodePoolId}" if n.NodePoolId else ""
            text += "。"
        return text
    text = f"Cluster {cluster_id} has {total} node{'s' if total != 1 else ''}, {total - len(bad)} running."
    for n in bad[:5]:
        text += f" Node {n.InstanceId} is {n.InstanceState}"
        text += f" because {n.FailedReason}" if n.FailedReason else ""
        text += f", node pool {n.NodePoolId}" if n.NodePoolId else ""
        text += "."
    return text


def logs(access: TencentAccess, topic_id: str, kind: str, query: str, minutes: int, language: str) -> str:
    """CLS SearchLog over the last ``minutes``, summarized as count and top signatures."""
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - minutes * 60_000
    from tools.logs.classify import common_messages  # the one log classifier, as classify_logs reads

    records = list(ClsSearch(access).search(topic_id, query, start_ms, end_ms, limit=500))
    top = [(sig.replace("<*>", "#")[:60], n) for sig, n in common_messages(records)]  # "#" reads out as a number
    label = KIND_ZH.get(kind, kind)
    if language == "zh":
        if not records:
            return f"最近{minutes}分钟的{label}日志里没有匹配“{query}”的记录。"
        spoken = "；".join(f"“{sig}”{n}次" for sig, n in top)
        return f"最近{minutes}分钟的{label}日志里有{len(records)}条匹配“{query}”，最常见的是：{spoken}。"
    if not records:
        return f"No {kind} logs matched {query!r} in the last {minutes} minutes."
    spoken = "; ".join(f'"{sig}" {n} times' for sig, n in top)
    return f"{len(records)} {kind} log records matched {query!r} in the last {minutes} minutes; most common: {spoken}."


def access_for(
    env: dict[str, str], id_env: str | None, key_env: str | None, region: str, endpoint: str | None
) -> TencentAccess:
    """The speaking user's Tencent Cloud access (raises ToolError naming what is missing)."""
    if not id_env or not key_env:
        raise ToolError("no Tencent Cloud credentials are configured for this user")
    return TencentAccess.from_env(env, id_env, key_env, region, endpoint)
