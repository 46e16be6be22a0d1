"""The proxy keeps its HTTP connections alive: many calls, in sequence or at once, reuse a few of them.

A TCP fault proxy with no toxics sits between the stdio proxy and a real
MCPServer and counts the connections it accepts. Closing an answered SSE
stream before its end (what the proxy did until it read the rest in the
background) costs one new connection per request.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from agentdock.harness.tcp.proxy import FaultProxy
from agentdock.proxy.testserver import running_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CALLS = 30
CONCURRENT = 8


@pytest.mark.parametrize("json_response", [False, True], ids=["sse", "json"])
async def test_sequential_and_concurrent_calls_reuse_kept_alive_connections(
    proxy_client: Any, json_response: bool
) -> None:
    with running_server(json_response=json_response) as server:
        upstream = server.url.split("//", 1)[1].split("/", 1)[0]
        async with FaultProxy("counter", listen="127.0.0.1:0", upstream=upstream) as counter:
            url = f"http://{counter.listen}/mcp"
            with anyio.fail_after(60):
                async with proxy_client.connect(url, mode="legacy") as client:
                    for i in range(CALLS):
                        result = await client.call_tool("echo", {"text": f"call {i}"})
                        assert not result.is_error
                    sequential = counter.stats["connections"]

                    async def burst(worker: int) -> None:
                        for i in range(CALLS // CONCURRENT):
                            result = await client.call_tool("echo", {"text": f"{worker}/{i}"})
                            assert not result.is_error

                    async with anyio.create_task_group() as tg:
                        for worker in range(CONCURRENT):
                            tg.start_soon(burst, worker)
                    total = counter.stats["connections"]
    # initialize + the GET stream + a spare; then at most one more per call in flight at once
    assert sequential <= 4, f"{sequential} connections for {CALLS} sequential calls"
    assert total <= sequential + CONCURRENT + 2, f"{total} connections after {CONCURRENT} concurrent workers"
