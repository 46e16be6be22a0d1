"""Thin fixtures over the harness's context managers (which scripts can use directly)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

import pytest

from agentdock.harness.http.model import Plan
from agentdock.harness.http.server import FaultServer, fault_server
from agentdock.harness.tcp.proxy import FaultProxy

ACCEPT = "application/json, text/event-stream"


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


@pytest.fixture
def start_fault_server(stack: AsyncExitStack) -> Callable[..., Any]:
    """``server = await start_fault_server([{"kind": ...}], seed=1)``: runs until the test ends."""

    async def start(faults: list[dict[str, Any]] | None = None, seed: int = 0, **kwargs: Any) -> FaultServer:
        plan = Plan.from_dict({"seed": seed, "faults": faults or []})
        cm: AbstractAsyncContextManager[FaultServer] = fault_server(plan, **kwargs)
        return await stack.enter_async_context(cm)

    return start


@pytest.fixture
def start_fault_proxy(stack: AsyncExitStack) -> Callable[..., Any]:
    """``proxy = await start_fault_proxy(upstream_port, toxics=[...])`` on 127.0.0.1, any free port."""

    async def start(upstream_port: int, **kwargs: Any) -> FaultProxy:
        proxy = FaultProxy("test", listen="127.0.0.1:0", upstream=f"127.0.0.1:{upstream_port}", **kwargs)
        return await stack.enter_async_context(proxy)

    return start


def mcp_headers(server: FaultServer, session: str | None = None) -> dict[str, str]:
    headers = {"accept": ACCEPT, "content-type": "application/json", "authorization": server.auth_header}
    if session:
        headers["mcp-session-id"] = session
    return headers


@pytest.fixture
def headers() -> Callable[..., dict[str, str]]:
    return mcp_headers
