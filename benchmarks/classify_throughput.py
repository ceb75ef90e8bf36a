"""Classify + signatures on a generated COS-style gzip archive, next to ``gzip -dc > /dev/null``, in one run.

Usage::

    python benchmarks/classify_throughput.py [--size-mb 1024] [--file /tmp/alertpilot-bench.jsonl.gz]
        [--workers N] [--rounds R]

The archive (one JSON record a line, values that may be escaped JSON strings, the way
CLS ships to COS) is generated once in /tmp and reused (never commit it). Each round
runs, back to back and each in its own process tree: ``gzip -dc``, classify in a single
process (``--workers 1``: the reader's inflate thread plus the classifier), classify with
the default worker count (or ``--workers N``), so a busy machine slows all three alike.

Reported per side: wall seconds, MB/s, CPU seconds (user + system of the whole tree) and
CPU seconds per GB; ``throughput_vs_gzip`` = gzip's wall time / ours (target >= 0.5),
``cpu_vs_gzip`` = our CPU seconds / gzip's (target <= 2.5). Memory: ``peak_rss_mb`` is
the largest single process (its VmHWM, sampled); ``peak_tree_pss_mb`` / ``peak_tree_rss_mb`` sample
the whole tree every 50 ms (PSS counts pages shared by the forked workers once; target
< 200 MB). On a shared machine the wall-clock ratio depends on the CPU share each side
gets; the CPU ratio much less. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PODS = [f"checkout-7d9f8b6c5-{s}" for s in ("x2x4q", "b9kzt", "m4c7w")] + ["payment-5b6d7c9f4-qq2lp"]
ERRORS = [
    "order {n} failed: upstream payment timeout after {ms}ms",
    "db connection to 10.0.{a}.{b}:5432 refused",
    "NullPointerException at CartService.total(CartService.java:{n})",
    "request {uuid} rejected: token 0x{hex} expired",
]


def _business(rng: random.Random, ts: int) -> str:
    pod = rng.choice(PODS)
    if rng.random() < 0.05:
        message = rng.choice(ERRORS).format(
            n=rng.randint(1, 99999),
            ms=rng.randint(100, 9000),
            a=rng.randint(0, 255),
            b=rng.randint(0, 255),
            uuid=f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4abc-8def-{rng.getrandbits(48):012x}",
            hex=f"{rng.getrandbits(32):x}",
        )
        level = "error"
    else:
        message = f"handled cart {rng.randint(1, 10**6)} in {rng.randint(1, 400)}ms for user {rng.randint(1, 10**5)}"
        level = "info"
    inner = {"time": ts, "level": level, "message": message, "trace_id": f"{rng.getrandbits(64):016x}"}
    return json.dumps(
        {
            "__TIMESTAMP__": ts,
            "__SOURCE__": "10.1.2.3",
            "__TAG__": {"pod_name": pod, "namespace": "shop", "container_name": "app"},
            "content": json.dumps(inner),
        }
    )


def _access(rng: random.Random, ts: int) -> str:
    line = (
        f"10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)} - - [20/Nov/2026:03:0{rng.randint(0, 9)}:00 +0000] "
        f'"GET /api/cart/{rng.randint(1, 10**6)} HTTP/1.1" '
        f"{rng.choice((200, 200, 200, 404, 502))} {rng.randint(80, 9000)}"
    )
    return json.dumps({"__TIMESTAMP__": ts, "__TAG__": {"pod_name": "ingress-nginx-abcde"}, "content": line})


def _event(rng: random.Random, ts: int) -> str:
    pod = rng.choice(PODS)
    reason = rng.choice(("BackOff", "Unhealthy", "OOMKilling", "Pulled"))
    event = {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": f"{pod}.{rng.getrandbits(40):x}", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "shop"},
        "reason": reason,
        "message": f"{reason} for container app",
        "type": "Warning",
        "lastTimestamp": "2026-11-20T03:05:00Z",
        "count": rng.randint(1, 30),
    }
    return json.dumps({"__TIMESTAMP__": ts, "content": json.dumps(event)})


def _audit(rng: random.Random, ts: int) -> str:
    audit = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"{rng.getrandbits(128):032x}",
        "stage": "ResponseComplete",
        "verb": rng.choice(("get", "list", "watch", "patch")),
        "user": {"username": "system:serviceaccount:kube-system:deployment-controller"},
        "objectRef": {"resource": "deployments", "namespace": "shop", "name": "checkout", "apiGroup": "apps"},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2026-11-20T02:58:00.000000Z",
    }
    return json.dumps({"__TIMESTAMP__": ts, "content": json.dumps(audit)})


def generate(path: Path, size_mb: int, seed: int = 7) -> None:
    """Write a gzip archive of about ``size_mb`` MB uncompressed (through the gzip binary, level 6)."""
    rng = random.Random(seed)
    pool = []
    base = 1_795_000_000_000
    for i in range(20_000):
        pick = rng.random()
        make = _business if pick < 0.70 else _access if pick < 0.88 else _event if pick < 0.96 else _audit
        pool.append(make(rng, base + i * 37) + "\n")
    target = size_mb * 1024 * 1024
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        gz = subprocess.Popen(["gzip", "-6", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert gz.stdin is not None
        written = 0
        while written < target:
            block = "".join(rng.choices(pool, k=5000)).encode()
            gz.stdin.write(block)
            written += len(block)
        gz.stdin.close()
        gz.wait()
    tmp.replace(path)


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return found


def _high_water_kib(pid: int) -> int:
    """The peak RSS (VmHWM) in KiB one process reached so far, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB of one process, 0 when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


def _child(argv: list[str]) -> dict[str, float | str]:
    """Run ``argv``: wall seconds, its largest process's peak RSS, the tree's peak RSS/PSS (MiB), stdout."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = usage.ru_utime + usage.ru_stime
    peaks = {"rss": 0, "pss": 0, "process": 0}
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            totals = [_memory_kib(pid) for pid in pids]
            peaks["process"] = max([peaks["process"], *(_high_water_kib(pid) for pid in pids)])
            peaks["rss"] = max(peaks["rss"], sum(r for r, _ in totals))
            peaks["pss"] = max(peaks["pss"], sum(p for _, p in totals))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, errors = proc.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {errors[-2000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # includes the waited-for pool workers
    return {
        "seconds": elapsed,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime - cpu_before, 2),
        "peak_rss_mb": round(peaks["process"] / 1024, 1),
        "peak_tree_rss_mb": round(peaks["rss"] / 1024, 1),
        "peak_tree_pss_mb": round(peaks["pss"] / 1024, 1),
        "stdout": out,
    }


def worker(path: Path, workers: int | None) -> None:
    """The measured side: classify + signatures over the archive, print the summary."""
    from tools.logs.classify import LogSummary
    from tools.logs.parallel import feed_parallel
    from tools.logs.reader import file_blocks, prefetched

    summary = LogSummary()
    feed_parallel(summary, prefetched(file_blocks([path], summary.issue)), workers)
    doc = summary.public(top=5)
    doc["issues"] = summary.issues
    print(json.dumps(doc))


def _side(run: dict[str, float | str], mb: float) -> dict[str, float | str]:
    seconds, cpu = float(run["seconds"]), float(run["cpu_seconds"])
    out: dict[str, float | str] = {
        "seconds": round(seconds, 2),
        "mb_per_s": round(mb / seconds, 1),
        "cpu_seconds": round(cpu, 2),
        "cpu_seconds_per_gb": round(cpu / (mb / 1000), 2),
    }
    out.update({k: run[k] for k in ("peak_rss_mb", "peak_tree_rss_mb", "peak_tree_pss_mb") if k in run})
    return out


def _round(file: Path, workers: int | None, mb: float) -> dict[str, object]:
    gzip_run = _child(["sh", "-c", f"gzip -dc {file} > /dev/null"])
    base = [sys.executable, __file__, "--worker", "--file", str(file)]
    single = _child([*base, "--workers", "1"])
    default = _child([*base, *(["--workers", str(workers)] if workers is not None else [])])
    out: dict[str, object] = {"gzip_dc": _side(gzip_run, mb)}
    for name, run in (("single_process", single), ("default_workers", default)):
        side = _side(run, mb)
        side["throughput_vs_gzip"] = round(float(gzip_run["seconds"]) / float(run["seconds"]), 3)
        side["cpu_vs_gzip"] = round(float(run["cpu_seconds"]) / max(float(gzip_run["cpu_seconds"]), 1e-9), 2)
        out[name] = side
    out["stdout"] = default["stdout"]
    return out


def main() -> None:
    """Generate the archive once, then run ``--rounds`` rounds of gzip, single process, default workers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--file", type=Path, default=Path("/tmp/alertpilot-bench.jsonl.gz"))
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: the CPUs; 1 = none)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of gzip, single process, default workers")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.file, args.workers)
        return
    if not args.file.exists():
        started = time.perf_counter()
        generate(args.file, args.size_mb)
        print(f"generated {args.file} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    size = int(subprocess.run(f"gzip -dc {args.file} | wc -c", shell=True, capture_output=True, text=True).stdout)
    mb = size / 1e6
    from tools.logs.parallel import default_workers

    rounds = [_round(args.file, args.workers, mb) for _ in range(max(1, args.rounds))]
    summary = json.loads(str(rounds[-1].pop("stdout")))
    for other in rounds[:-1]:
        other.pop("stdout")
    report = {
        "uncompressed_mb": round(mb, 1),
        "compressed_mb": round(args.file.stat().st_size / 1e6, 1),
        "default_workers": args.workers if args.workers is not None else default_workers(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "rounds": rounds,
        "counts": summary["counts"],
        "errors": summary["errors"],
        "top_signatures": [(s["count"], s["signature"]) for s in summary["signatures"]],
        "issues": summary["issues"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
