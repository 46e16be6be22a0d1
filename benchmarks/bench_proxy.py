"""Proxy benchmark: the SDK client direct over Streamable HTTP vs through the stdio proxy, in one run.

Against one real MCPServer (stateful, SSE responses) on 127.0.0.1:

* latency of ``tools/call`` (p50, p99), direct and through the proxy (calls alternate between
  the two, so load drift on a shared machine hits both alike), and the overhead;
* throughput at concurrency 1 and 32 (calls/s; best of two alternating rounds), with the ratio;
* proxy cold start: process spawn to the first response (``initialize``) on stdout;
* peak RSS of the proxy process after 200 pipelined calls, and after a 16 MiB result.

``run()`` returns rows for ``benchmarks/run.py``; ``python benchmarks/bench_proxy.py`` prints them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mcp.client.client import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters, get_default_environment  # noqa: E402

from agentdock.proxy.testserver import running_server  # noqa: E402

PROXY = REPO / "proxy" / "mcp_proxy.py"
LATENCY_CALLS = int(os.environ.get("BENCH_PROXY_CALLS", "300"))
WARMUP = 20


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _proxy_params(url: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=[str(PROXY), url, "--log-level", "warning"],
        env=get_default_environment(),
    )


async def _interleaved(direct: Client, proxied: Client) -> dict[str, dict[str, float]]:
    """Alternate direct and proxied calls, so machine-load drift hits both sides alike."""
    clients = {"direct": direct, "proxy": proxied}

    def caller(client: Client) -> Callable[[int], Awaitable[Any]]:
        async def call(i: int) -> Any:
            return await client.call_tool("echo", {"text": f"m{i}"})

        return call

    calls = {name: caller(client) for name, client in clients.items()}
    for i in range(WARMUP):
        for call in calls.values():
            await call(i)
    latencies: dict[str, list[float]] = {name: [] for name in clients}
    for i in range(LATENCY_CALLS):
        for name, call in calls.items():
            started = time.perf_counter()
            await call(i)
            latencies[name].append((time.perf_counter() - started) * 1000)
    out = {
        name: {"p50_ms": statistics.median(values), "p99_ms": _percentile(values, 99)}
        for name, values in latencies.items()
    }
    for concurrency, total in ((1, 200), (32, 640)):
        for _ in range(2):  # two rounds each, alternating, best kept: the least disturbed run
            for name, call in calls.items():
                rate = await _throughput(call, concurrency, total)
                key = f"tput_c{concurrency}"
                out[name][key] = max(rate, out[name].get(key, 0.0))
    return out


async def _throughput(call: Callable[[int], Awaitable[Any]], concurrency: int, total: int) -> float:
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await call(i)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return total / (time.perf_counter() - started)


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
}


def _spawn(url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return subprocess.Popen(
        [sys.executable, str(PROXY), url, "--log-level", "warning"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def _cold_start_ms(url: str, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = _spawn(url)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(_line(INIT))
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        samples.append((time.perf_counter() - started) * 1000)
        assert answer["id"] == 0 and "result" in answer, answer
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    return statistics.median(samples)


def _peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_under_load(url: str, big_bytes: int | None) -> float:
    """Pipeline 200 calls (or one call returning ``big_bytes``) through a raw proxy process; its peak RSS."""
    proc = _spawn(url)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(_line(INIT))
    proc.stdin.write(_line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    if big_bytes is None:
        calls = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "x"}},
            }
            for i in range(1, 201)
        ]
    else:
        calls = [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "big", "arguments": {"size": big_bytes}},
            }
        ]
    for call in calls:
        proc.stdin.write(_line(call))
    proc.stdin.flush()
    answered = 0
    while answered < len(calls) + 1:
        message = json.loads(proc.stdout.readline())
        answered += "id" in message
        assert "error" not in message, message
    peak = _peak_rss_mib(proc.pid)
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()
    return peak


async def _bench(url: str) -> dict[str, dict[str, float]]:
    async with Client(url, mode="legacy") as direct, Client(_proxy_params(url), mode="legacy") as proxied:
        return await _interleaved(direct, proxied)


def run() -> list[dict[str, Any]]:
    with running_server() as server:
        results = anyio.run(_bench, server.url)
        cold = _cold_start_ms(server.url)
        rss_calls = _rss_under_load(server.url, None)
        rss_big = _rss_under_load(server.url, 16 * 1024 * 1024)
    d, p = results["direct"], results["proxy"]
    rows: list[dict[str, Any]] = []
    for key, label in (("p50_ms", "tools/call latency p50"), ("p99_ms", "tools/call latency p99")):
        rows.append({"name": label, "subject": "direct", "value": d[key], "unit": "ms"})
        rows.append(
            {"name": label, "subject": "proxy", "value": p[key], "unit": "ms", "ratio": p[key] / d[key]}
        )
        rows.append(
            {
                "name": label.replace("latency", "overhead"),
                "subject": "proxy",
                "value": p[key] - d[key],
                "unit": "ms",
            }
        )
    for c in (1, 32):
        key = f"tput_c{c}"
        name = f"throughput, concurrency {c}"
        rows.append({"name": name, "subject": "direct", "value": d[key], "unit": "calls/s"})
        rows.append(
            {"name": name, "subject": "proxy", "value": p[key], "unit": "calls/s", "ratio": p[key] / d[key]}
        )
    rows.append({"name": "cold start to first response", "subject": "proxy", "value": cold, "unit": "ms"})
    rows.append(
        {"name": "peak RSS, 200 pipelined calls", "subject": "proxy", "value": rss_calls, "unit": "MiB"}
    )
    rows.append({"name": "peak RSS, one 16 MiB result", "subject": "proxy", "value": rss_big, "unit": "MiB"})
    return rows


if __name__ == "__main__":
    for row in run():
        ratio = f"  (x{row['ratio']:.2f} vs direct)" if row.get("ratio") is not None else ""
        print(f"{row['name']:<34} {row['subject']:<7} {row['value']:>10.2f} {row['unit']}{ratio}")
