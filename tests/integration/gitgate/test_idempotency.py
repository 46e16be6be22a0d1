"""git-mcp over HTTP applies a keyed ``git_exec`` once: retries and in-flight duplicates get the first result.

The scratch remote's upload-pack program records every fetch and, while its gate is closed,
waits for a go-ahead (:func:`agentdock.gitgate.scratch.install_fetch_gate`), so the test knows
when the first call is inside ``git fetch`` and can hold it there while the duplicate arrives.
(A pre-commit hook cannot do this any more: the gateway runs git with hooks off.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentdock.gitgate.process import GitServerProcess, git_server_process
from agentdock.gitgate.scratch import FetchGate, ScratchRepo, install_fetch_gate
from agentdock.gitgate.server import TOOL_NAME
from agentdock.mcphost import TokenStore


@pytest.fixture(scope="module")
def gate(scratch: ScratchRepo) -> FetchGate:
    return install_fetch_gate(scratch)


@pytest.fixture(scope="module")
def token(scratch: ScratchRepo) -> str:
    return TokenStore(scratch.root).ensure("claude")


@pytest.fixture(scope="module")
def server(scratch: ScratchRepo, token: str, gate: FetchGate) -> Iterator[GitServerProcess]:
    env = {**scratch.env, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with git_server_process(scratch.root, env=env) as proc:
        yield proc


async def keyed_call(url: str, token: str, key: str, command: str) -> Any:
    http = httpx2.AsyncClient(
        headers={"authorization": f"Bearer {token}", "idempotency-key": key}, timeout=httpx2.Timeout(60.0)
    )
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        return await client.call_tool(TOOL_NAME, {"command": command})


async def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait (bounded) for a condition observable only by looking, such as a line in the server's log."""
    try:
        with anyio.fail_after(timeout):
            while not condition():
                await anyio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None


def summary(result: Any) -> tuple[bool, str, Any]:
    return result.is_error, result.content[0].text, result.structured_content


async def release_when_waiting(gate: FetchGate) -> None:
    with anyio.fail_after(30):
        while not gate.release():
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_a_duplicate_arriving_while_the_first_fetch_runs_gets_its_result_and_fetches_nothing(
    server: GitServerProcess, scratch: ScratchRepo, token: str, gate: FetchGate
) -> None:
    before = gate.arrivals()
    command = "fetch origin"
    results: dict[str, Any] = {}

    async def call(name: str) -> None:
        results[name] = await keyed_call(server.url, token, "key-in-flight", command)

    waiting_lines = len([line for line in server.stderr_lines if "in flight" in line])
    gate.close()
    try:
        with anyio.fail_after(90):
            async with anyio.create_task_group() as calls:
                calls.start_soon(call, "first")
                await until(lambda: gate.arrivals() > before, "the first call to reach git fetch")
                calls.start_soon(call, "duplicate")
                await until(
                    lambda: (
                        len([line for line in server.stderr_lines if "in flight" in line]) > waiting_lines
                    ),
                    "git-mcp to log that the duplicate waits for the call in flight",
                )
                assert not results, "a call finished while the first fetch was still held"
                gate.open()
                await release_when_waiting(gate)
    finally:
        gate.open()
    assert gate.arrivals() == before + 1, "git fetch ran more than once for one Idempotency-Key"
    assert not results["first"].is_error, results["first"]
    assert summary(results["duplicate"]) == summary(results["first"])


@pytest.mark.anyio
async def test_a_sequential_retry_gets_the_stored_result_and_another_command_under_the_key_is_refused(
    server: GitServerProcess, scratch: ScratchRepo, token: str, gate: FetchGate
) -> None:
    before = gate.arrivals()
    command = "fetch origin"
    with anyio.fail_after(90):
        first = await keyed_call(server.url, token, "key-retry", command)
        retry = await keyed_call(server.url, token, "key-retry", command)
        other = await keyed_call(server.url, token, "key-retry", "fetch --prune origin")
        fresh = await keyed_call(server.url, token, "key-fresh", command)
    assert not first.is_error and summary(retry) == summary(first)
    assert other.is_error and other.content[0].text.startswith("refused [idempotency]")
    assert not fresh.is_error
    assert gate.arrivals() == before + 2  # key-retry once, key-fresh once
    assert "replayed Idempotency-Key key-retry" in server.stderr
