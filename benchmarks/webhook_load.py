"""Webhook intake load test on loopback: 2,000 alerts over 20 s from 2 client processes.

Starts `alertpilot serve` (SQLite in a temp home, in-process worker on, the demo world),
sends Alertmanager notifications at a fixed pace from two processes (10% are
redeliveries of earlier ones), then checks that every distinct alert was stored once,
every redelivery was folded, and that the worker folded all of them into incidents.
Bounded and self-stopping. Prints intake latency percentiles (client-observed, per request).

    python benchmarks/webhook_load.py [--alerts 2000] [--seconds 20] [--clients 2] [--groups 20]
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "evals" / "cases" / "checkout-bad-release"
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notification(client: int, i: int, groups: int) -> dict:
    payload = json.loads((CASE / "alert.json").read_text())
    alert = copy.deepcopy(payload["alerts"][0])
    group = (client * 7919 + i) % groups
    payload["groupKey"] = f"bench-group-{group}"
    alert["labels"] = {**alert["labels"], "pod": f"checkout-{client}-{i}"}
    alert["fingerprint"] = f"c{client}-a{i}"
    payload["alerts"] = [alert]
    return payload


def client_main(client: int, base: str, count: int, seconds: float, groups: int, out: mp.Queue) -> None:
    interval = seconds / count
    latencies: list[float] = []
    accepted = duplicates = errors = 0
    unique = count - count // 10
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as http:
        start = time.perf_counter()
        for n in range(count):
            # every 10th request redelivers an earlier notification (Alertmanager's retry)
            i = n if n < unique else (n - unique) * 9
            body = notification(client, i, groups)
            target = start + n * interval
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            response = http.post("/webhooks/alertmanager", json=body)
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                errors += 1
                continue
            accepted += response.json()["accepted"]
            duplicates += response.json()["duplicates"]
    out.put({"latencies": latencies, "accepted": accepted, "duplicates": duplicates, "errors": errors})


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"serve did not listen on {port}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--no-worker", action="store_true", help="measure intake alone")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alertpilot-bench-"))
    config = yaml.safe_load((CASE / "config.yaml").read_text())
    config.update({"world": str(CASE), "policy": {"verify_after_s": 0.5, "approval_from_rung": 7}})
    config["users"] = [*config.get("users", []), {"name": "bench-reader"}]  # reads the incidents back
    (work / "alertpilot.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTPILOT_")}
    env.update({"ALERTPILOT_HOME": str(work / "home"), "ALERTPILOT_WEBHOOK_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)})
    reader = subprocess.run(
        [sys.executable, "-m", "cli", "users", "token", "create", "bench-reader",
         "--config", str(work / "alertpilot.yaml")],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    cmd = [sys.executable, "-m", "cli", "serve", "--port", str(port), "--config", str(work / "alertpilot.yaml")]
    if args.no_worker:
        cmd.append("--no-worker")
    log = (work / "serve.log").open("wb")  # noqa: SIM115 - lives as long as the server
    serve = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, 30)
        per_client = args.alerts // args.clients
        results: mp.Queue = mp.Queue()
        procs = [
            mp.Process(target=client_main, args=(c, base, per_client, args.seconds, args.groups, results))
            for c in range(args.clients)
        ]
        began = time.perf_counter()
        for proc in procs:
            proc.start()
        reports = [results.get(timeout=args.seconds * 3 + 30) for _ in procs]
        for proc in procs:
            proc.join(timeout=10)
        elapsed = time.perf_counter() - began
        latencies = [x for r in reports for x in r["latencies"]]
        accepted = sum(r["accepted"] for r in reports)
        duplicates = sum(r["duplicates"] for r in reports)
        errors = sum(r["errors"] for r in reports)
        unique_expected = args.clients * (per_client - per_client // 10)
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {reader}"}, timeout=30)
        drained = args.no_worker
        deadline = time.monotonic() + 120
        while not drained and time.monotonic() < deadline:
            drained = api.get("/healthz").json()["queue"]["pending"] == 0
            time.sleep(0.5)
        incidents = api.get("/incidents", params={"limit": 1000}).json()
        seen = sum(api.get(f"/incidents/{row['id']}").json()["alerts_seen"] for row in incidents)
        queue = api.get("/healthz").json()["queue"]
        print(f"requests: {len(latencies)} in {elapsed:.1f}s from {args.clients} processes; errors: {errors}")
        print(f"stored: {accepted} distinct (expected {unique_expected}); folded redeliveries: {duplicates}")
        print(f"queue after drain: {queue}; incidents: {len(incidents)}; alerts folded into them: {seen}")
        print(
            f"intake latency ms: p50 {pct(latencies, 50):.1f}  p95 {pct(latencies, 95):.1f}  "
            f"p99 {pct(latencies, 99):.1f}  max {max(latencies) * 1000:.1f}  "
            f"mean {statistics.mean(latencies) * 1000:.1f}"
        )
        ok = errors == 0 and accepted == unique_expected and duplicates == len(latencies) - unique_expected
        if not args.no_worker:
            ok = ok and drained and seen == unique_expected
        print("OK: none lost, duplicates folded" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        serve.terminate()
        serve.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
