"""git-mcp over HTTP applies a keyed ``git_exec`` once: retries and in-flight duplicates get the first result.

The repository's pre-commit hook reports every commit to a Unix socket the test
listens on and waits for a go-ahead, so the test knows when the first call is
inside ``git commit`` and can hold it there while the duplicate arrives.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from anyio.abc import SocketListener, SocketStream
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentdock.gitgate.process import GitServerProcess, git_server_process
from agentdock.gitgate.scratch import ScratchRepo
from agentdock.gitgate.server import TOOL_NAME
from agentdock.mcphost import TokenStore

HOOK = """#!{python}
import socket
s = socket.socket(socket.AF_UNIX)
s.connect({socket_path!r})
s.sendall(b"commit\\n")
s.recv(1)
"""


@pytest.fixture(scope="module")
def hook_socket(scratch: ScratchRepo) -> Iterator[Path]:
    """A pre-commit hook in the scratch repository that reports to (and waits on) this socket."""
    with tempfile.TemporaryDirectory(prefix="gg-hook-", dir="/tmp") as folder:
        socket_path = Path(folder) / "hook.sock"
        hook = scratch.root / ".git" / "hooks" / "pre-commit"
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text(HOOK.format(python=sys.executable, socket_path=str(socket_path)), encoding="utf-8")
        hook.chmod(0o755)
        yield socket_path


@pytest.fixture(scope="module")
def token(scratch: ScratchRepo) -> str:
    return TokenStore(scratch.root).ensure("claude")


@pytest.fixture(scope="module")
def server(scratch: ScratchRepo, token: str, hook_socket: Path) -> Iterator[GitServerProcess]:
    env = {**scratch.env, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with git_server_process(scratch.root, env=env) as proc:
        yield proc


@dataclass
class CommitGate:
    """Accepts the hook's connections: holds the first until :attr:`release` is set, lets others through."""

    listener: SocketListener
    first_arrived: anyio.Event = field(default_factory=anyio.Event)
    release: anyio.Event = field(default_factory=anyio.Event)
    arrivals: int = 0

    async def serve(self) -> None:
        async with anyio.create_task_group() as tg:
            while True:
                stream = await self.listener.accept()
                self.arrivals += 1
                tg.start_soon(self._answer, stream, self.arrivals == 1)

    async def _answer(self, stream: SocketStream, first: bool) -> None:
        async with stream:
            await stream.receive()
            if first:
                self.first_arrived.set()
                await self.release.wait()
            await stream.send(b"go")


@asynccontextmanager
async def commit_gate(socket_path: Path, *, hold_first: bool) -> AsyncIterator[CommitGate]:
    socket_path.unlink(missing_ok=True)
    listener = await anyio.create_unix_listener(socket_path)
    gate = CommitGate(listener)
    if not hold_first:
        gate.release.set()
    try:
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(gate.serve)
            yield gate
            gate.release.set()
            tg.cancel_scope.cancel()
    finally:
        socket_path.unlink(missing_ok=True)


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


def commit_count(scratch: ScratchRepo) -> int:
    return int(scratch.git("rev-list", "--count", "HEAD"))


def summary(result: Any) -> tuple[bool, str, Any]:
    return result.is_error, result.content[0].text, result.structured_content


@pytest.mark.anyio
async def test_a_duplicate_arriving_while_the_first_commit_runs_gets_its_result_and_commits_nothing(
    server: GitServerProcess, scratch: ScratchRepo, token: str, hook_socket: Path
) -> None:
    before = commit_count(scratch)
    command = "commit --allow-empty -m 'exactly once'"
    results: dict[str, Any] = {}

    async def call(name: str) -> None:
        results[name] = await keyed_call(server.url, token, "key-in-flight", command)

    waiting_lines = len([line for line in server.stderr_lines if "in flight" in line])
    with anyio.fail_after(90):
        async with commit_gate(hook_socket, hold_first=True) as gate, anyio.create_task_group() as calls:
            calls.start_soon(call, "first")
            await gate.first_arrived.wait()  # the first call is inside `git commit`, held by its hook
            calls.start_soon(call, "duplicate")
            await until(
                lambda: len([line for line in server.stderr_lines if "in flight" in line]) > waiting_lines,
                "git-mcp to log that the duplicate waits for the call in flight",
            )
            assert not results, "a call finished while the first commit was still held"
            gate.release.set()
    assert gate.arrivals == 1, "git commit ran more than once for one Idempotency-Key"
    assert commit_count(scratch) == before + 1
    assert not results["first"].is_error
    assert summary(results["duplicate"]) == summary(results["first"])
    assert scratch.git("log", "-1", "--format=%s").strip() == "exactly once"


@pytest.mark.anyio
async def test_a_sequential_retry_gets_the_stored_result_and_another_command_under_the_key_is_refused(
    server: GitServerProcess, scratch: ScratchRepo, token: str, hook_socket: Path
) -> None:
    before = commit_count(scratch)
    command = "commit --allow-empty -m 'retried'"
    with anyio.fail_after(90):
        async with commit_gate(hook_socket, hold_first=False) as gate:
            first = await keyed_call(server.url, token, "key-retry", command)
            retry = await keyed_call(server.url, token, "key-retry", command)
            other = await keyed_call(server.url, token, "key-retry", "commit --allow-empty -m 'other'")
            fresh = await keyed_call(server.url, token, "key-fresh", command)
    assert not first.is_error and summary(retry) == summary(first)
    assert other.is_error and other.content[0].text.startswith("refused [idempotency]")
    assert not fresh.is_error
    assert gate.arrivals == 2  # key-retry once, key-fresh once
    assert commit_count(scratch) == before + 2
    assert "replayed Idempotency-Key key-retry" in server.stderr
