"""qms-mcp: tool-call latency and throughput, against the domain called in-process.

A real ``qms-mcp`` subprocess (stateful Streamable HTTP on 127.0.0.1, bearer
tokens) over a fresh project.  Subjects:

* ``in-process``  ``Qms`` methods called directly: the baseline (no MCP, no HTTP)
* ``qms-mcp``     the same operations through the SDK client and the server

Rows: p50/p99 latency of a read tool (``qms_status``) and a mutating tool
(``qms_create``: journal, fsyncs, audit), and throughput with 7 concurrent
clients (one per default agent, mixed reads and claude's creates).

Run alone: ``.venv/bin/python benchmarks/run.py --only qms`` or ``python benchmarks/bench_qms.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentdock import paths
from agentdock.mcphost import TokenStore
from agentdock.qms.process import qms_server_process
from agentdock.qms.project import init_project
from agentdock.qms.service import Qms

READS = 300
WRITES = 120
CLIENTS = 7
CALLS_PER_CLIENT = 60


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _latency_rows(
    name: str, subject: str, samples_s: list[float], baseline: list[float] | None
) -> list[dict[str, Any]]:
    rows = []
    for label, q in (("p50", 0.5), ("p99", 0.99)):
        value = _pct(samples_s, q) * 1000
        row: dict[str, Any] = {"name": f"{name} {label}", "subject": subject, "value": value, "unit": "ms"}
        if baseline:
            row["ratio"] = value / (_pct(baseline, q) * 1000)
            row["note"] = "vs in-process"
        rows.append(row)
    return rows


def _in_process(root: Path) -> tuple[list[float], list[float]]:
    qms = Qms(root)
    reads, writes = [], []
    for _ in range(READS):
        start = time.perf_counter()
        qms.status("qa", "SOP-001")
        reads.append(time.perf_counter() - start)
    for i in range(WRITES):
        start = time.perf_counter()
        qms.create("claude", "CR", f"in-process {i}")
        writes.append(time.perf_counter() - start)
    return reads, writes


async def _timed(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        result = await call()
        samples.append(time.perf_counter() - start)
        if result.is_error:
            raise RuntimeError(f"benchmark call refused: {result.content}")
    return samples


async def _over_mcp(url: str, tokens: dict[str, str]) -> tuple[list[float], list[float], float, int]:
    def client_for(agent: str) -> tuple[httpx2.AsyncClient, Client]:
        http = httpx2.AsyncClient(headers={"authorization": f"Bearer {tokens[agent]}"}, timeout=60)
        return http, Client(streamable_http_client(url, http_client=http))

    http, client = client_for("claude")
    async with http, client:
        reads = await _timed(lambda: client.call_tool("qms_status", {"doc_id": "SOP-001"}), READS)
        writes = await _timed(
            lambda: client.call_tool("qms_create", {"doc_type": "INV", "title": "bench"}), WRITES
        )

    done = 0

    async def worker(agent: str) -> None:
        nonlocal done
        http, client = client_for(agent)
        async with http, client:
            for i in range(CALLS_PER_CLIENT):
                if agent == "claude" and i % 3 == 0:
                    result = await client.call_tool("qms_create", {"doc_type": "SOP", "title": f"t{i}"})
                elif i % 2:
                    result = await client.call_tool("qms_inbox", {})
                else:
                    result = await client.call_tool("qms_status", {"doc_id": "SOP-001"})
                if result.is_error:
                    raise RuntimeError(f"{agent}: {result.content}")
                done += 1

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for agent in paths.DEFAULT_AGENTS[:CLIENTS]:
            group.start_soon(worker, agent)
    elapsed = time.perf_counter() - start
    return reads, writes, done / elapsed, done


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-qms-") as tmp:
        root = Path(tmp)
        init_project(root)
        # The benchmark creates hundreds of documents as claude: lift the per-user creation limit
        # (a person's setting in QMS/.meta/limits.json; the default is 30 per hour).
        (root / "QMS" / ".meta" / "limits.json").write_text('{"max_creates_per_window": 1000000}\n')
        Qms(root).create("claude", "SOP", "benchmark subject")
        store = TokenStore(root)
        tokens = {agent: store.ensure(agent) for agent in paths.DEFAULT_AGENTS}
        base_reads, base_writes = _in_process(root)
        with qms_server_process(root) as server:
            reads, writes, throughput, calls = anyio.run(_over_mcp, server.url, tokens)
    rows = [
        *_latency_rows("qms_status latency", "in-process", base_reads, None),
        *_latency_rows("qms_status latency", "qms-mcp", reads, base_reads),
        *_latency_rows("qms_create latency", "in-process", base_writes, None),
        *_latency_rows("qms_create latency", "qms-mcp", writes, base_writes),
        {
            "name": f"throughput, {CLIENTS} concurrent clients",
            "subject": "qms-mcp",
            "value": throughput,
            "unit": "calls/s",
            "note": f"{calls} calls: inbox/status reads + claude's creates",
        },
        {
            "name": "sequential qms_status rate",
            "subject": "qms-mcp",
            "value": 1 / statistics.mean(reads),
            "unit": "calls/s",
            "note": "one client, one call at a time",
        },
    ]
    return rows


if __name__ == "__main__":
    for row in run():
        ratio = f"{row['ratio']:.2f}x {row.get('note', '')}" if "ratio" in row else row.get("note", "")
        print(f"{row['name']:<36} {row['subject']:<11} {row['value']:>10.3f} {row['unit']:<8} {ratio}")
