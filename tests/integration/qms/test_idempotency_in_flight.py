"""Two qms_create calls with one Idempotency-Key at once through a real qms-mcp: one document, one result.

The test holds the CR id-allocation lock, so the first call cannot finish; it
waits until the server logs that the duplicate is waiting for the call in
flight, then lets go.  Both modes the proxy meets are covered: stateful SSE and
stateless JSON.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from agentdock.qms.ids import DocType
from agentdock.qms.process import ServerProcess, qms_server_process
from agentdock.qms.storage import Storage

Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture(params=["stateful-sse", "stateless-json"])
def logging_server(
    request: pytest.FixtureRequest, project: Path, tokens: dict[str, str]
) -> Iterator[ServerProcess]:
    stateless = request.param == "stateless-json"
    with qms_server_process(
        project, stateless=stateless, json_response=stateless, extra_args=["--log-level", "info"]
    ) as proc:
        yield proc


async def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait (bounded) for a condition observable only by looking, such as a line in the server's log."""
    try:
        with anyio.fail_after(timeout):
            while not condition():
                await anyio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None


@pytest.mark.anyio
async def test_a_duplicate_create_arriving_while_the_first_runs_gets_its_result_and_creates_nothing(
    logging_server: ServerProcess, project: Path, connect: Connect
) -> None:
    key = {"idempotency-key": "create-once"}
    results: dict[str, Any] = {}

    async def create(name: str) -> None:
        async with connect(logging_server.url, "claude", **key) as client:
            results[name] = await client.call_tool("qms_create", {"doc_type": "CR", "title": "Only one"})

    def waiting() -> bool:
        return "a call with this key is in flight" in logging_server.stderr

    with anyio.fail_after(90), contextlib.ExitStack() as held:
        held.enter_context(Storage(project).allocation(DocType.CR, None))  # no CR can be created yet
        async with anyio.create_task_group() as tg:
            tg.start_soon(create, "first")
            tg.start_soon(create, "duplicate")
            await until(waiting, "qms-mcp to log that one call waits for the other with the same key")
            assert not results, "a call finished while the id allocation was still held"
            held.close()
    assert not results["first"].is_error, results["first"]
    assert results["duplicate"].structured_content == results["first"].structured_content
    assert results["duplicate"].content == results["first"].content
    assert results["first"].structured_content["id"] == "CR-001"
    assert sorted(p.name for p in (project / "QMS" / ".meta" / "CR").glob("*.json")) == ["CR-001.json"]
    assert "replayed qms_create for claude" in logging_server.stderr
