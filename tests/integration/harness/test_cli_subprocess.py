"""``agentdock faults serve`` and ``agentdock faults proxy`` as real subprocesses, stopped with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import Process

from agentdock.harness.background import in_thread
from agentdock.harness.http.model import Plan
from agentdock.harness.http.server import fault_server

pytestmark = pytest.mark.anyio

ENV = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT") if k in os.environ}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


class Stderr:
    """A process's stderr as lines, read on demand (bounded by the caller's fail_after)."""

    def __init__(self, process: Process) -> None:
        assert process.stderr is not None
        self.stream = process.stderr
        self.lines: list[str] = []
        self._buffer = ""
        self._next = 0

    async def until(self, pattern: str) -> re.Match[str]:
        while True:
            while self._next < len(self.lines):
                line = self.lines[self._next]
                self._next += 1
                found = re.search(pattern, line)
                if found:
                    return found
            try:
                chunk = await self.stream.receive()
            except anyio.EndOfStream:
                raise AssertionError(
                    f"no line matched {pattern!r}; stderr:\n" + "\n".join(self.lines)
                ) from None
            *complete, self._buffer = (self._buffer + chunk.decode()).split("\n")
            self.lines += complete


async def stop(process: Process) -> int:
    process.send_signal(signal.SIGTERM)
    with anyio.fail_after(10):
        return await process.wait()


async def test_faults_serve_runs_a_plan_until_sigterm_and_writes_its_journal(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("seed: 5\nfaults:\n  - kind: status\n    status: 503\n    match: {method: ping}\n")
    journal = tmp_path / "journal.jsonl"
    cmd = [sys.executable, "-m", "agentdock", "faults", "serve", "--plan", str(plan), "--port", "0"]
    cmd += ["--token", "tok", "--journal", str(journal)]
    async with await anyio.open_process(cmd, env=ENV) as process:
        try:
            with anyio.fail_after(30):
                found = await Stderr(process).until(r"fault server: (\S+) seed=5 faults: status")
            url = found.group(1)
            headers = {"accept": "application/json, text/event-stream", "authorization": "Bearer tok"}
            async with httpx.AsyncClient(timeout=10) as http:
                init = await http.post(url, json=INIT, headers=headers)
                sid = init.headers["mcp-session-id"]
                ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
                response = await http.post(url, json=ping, headers={**headers, "mcp-session-id": sid})
            assert init.status_code == 200 and response.status_code == 503
        finally:
            code = await stop(process)
    assert code == 0
    lines = journal.read_text().splitlines()
    assert '"rpc_method": "ping"' in lines[1] and '"faults": ["status"]' in lines[1]


async def test_faults_proxy_applies_cli_toxics_and_serves_the_control_api(start_fault_server: Any) -> None:
    server = await start_fault_server()
    cmd = [sys.executable, "-m", "agentdock", "faults", "proxy", "--listen", "127.0.0.1:0"]
    cmd += ["--upstream", f"127.0.0.1:{server.port}", "--toxic", "latency:latency_ms=1,name=lag"]
    cmd += ["--control", "127.0.0.1:0", "--token", "ctl", "--seed", "3"]
    async with await anyio.open_process(cmd, env=ENV) as process:
        try:
            with anyio.fail_after(30):
                stderr = Stderr(process)
                listen = (await stderr.until(r"fault proxy proxy: (\S+) -> ")).group(1)
                control = (await stderr.until(r"control API: (\S+)")).group(1)
            async with httpx.AsyncClient(timeout=10) as http:
                proxies = (
                    await http.get(f"{control}/proxies", headers={"authorization": "Bearer ctl"})
                ).json()
                response = await http.post(
                    f"http://{listen}/mcp",
                    json=INIT,
                    headers={
                        "accept": "application/json, text/event-stream",
                        "authorization": server.auth_header,
                    },
                )
            assert [t["name"] for t in proxies["proxy"]["toxics"]] == ["lag"]
            assert response.status_code == 200
        finally:
            code = await stop(process)
    assert code == 0


def test_in_thread_runs_the_fault_server_for_synchronous_code() -> None:
    plan = Plan()
    with in_thread(lambda: fault_server(plan, token="t")) as handle:
        server = handle.value
        response = httpx.post(
            server.url,
            json=INIT,
            headers={"accept": "application/json, text/event-stream", "authorization": "Bearer t"},
            timeout=10,
        )
        assert response.status_code == 200
        assert handle.call(lambda: _count(server)) == 1


async def _count(server: Any) -> int:
    return len(server.journal.requests)
