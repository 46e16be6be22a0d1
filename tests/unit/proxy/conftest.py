"""Fixtures for the proxy's unit tests: a fake stdout and a bridge driven over httpx.MockTransport."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import httpx
import pytest
import respx

from agentdock.proxy.bridge import Bridge
from agentdock.proxy.config import ProxyConfig
from agentdock.proxy.errors import SinkClosed
from agentdock.proxy.retry import Backoff
from agentdock.proxy.transport import Upstream

URL = "http://mcp.test/mcp"


class FakeSink:
    """Collects what the bridge writes to stdout; can be 'broken' like a closed pipe."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.broken = anyio.Event()
        self.arrived = anyio.Event()

    async def send(self, message: Any) -> None:
        if self.broken.is_set():
            raise SinkClosed("closed")
        self.messages.append(json.loads(json.dumps(message)))
        self.arrived.set()
        self.arrived = anyio.Event()

    async def drain(self, timeout_s: float) -> bool:
        return not self.broken.is_set()

    def by_id(self, request_id: Any) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if isinstance(m, dict) and m.get("id") == request_id and "method" not in m
        ]

    async def wait_for(self, predicate: Callable[[list[Any]], bool], timeout_s: float = 5.0) -> None:
        with anyio.fail_after(timeout_s):
            while not predicate(self.messages):
                await self.arrived.wait()


@dataclass
class Seen:
    """Every HTTP request the fake server received, decoded."""

    requests: list[httpx.Request] = field(default_factory=list)

    def bodies(self, method: str | None = None) -> list[dict[str, Any]]:
        out = []
        for r in self.requests:
            if r.method != "POST":
                continue
            body = json.loads(r.content)
            if method is None or (isinstance(body, dict) and body.get("method") == method):
                out.append(body)
        return out

    def posts(self, method: str) -> list[httpx.Request]:
        return [
            r for r in self.requests if r.method == "POST" and json.loads(r.content).get("method") == method
        ]


def line(message: Any) -> bytes:
    return json.dumps(message).encode()


def request(request_id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def result(request_id: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def sse_response(*events: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    text = "".join(f"data: {json.dumps(e)}\n\n" if not isinstance(e, str) else e for e in events)
    return httpx.Response(
        200, content=text.encode(), headers={"content-type": "text/event-stream", **(headers or {})}
    )


async def no_sleep(_: float) -> None:
    await anyio.lowlevel.checkpoint()


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class Harness:
    sink: FakeSink
    seen: Seen
    sleeps: list[float]
    bridge: Bridge | None = None


class BridgeRunner:
    """Runs a Bridge over scripted stdin lines against an async MockTransport handler — a function
    (a small stateful server) or a respx router (routes scripted per method)."""

    def __init__(self) -> None:
        self.config = ProxyConfig(url=URL, shutdown_grace_s=5.0)
        self.slept = 0.0
        """Seconds the bridge has slept in the current run (fake time: sleeping returns at once)."""

    async def run(
        self,
        handler: Handler | respx.MockRouter,
        lines: Iterable[bytes] | Callable[[Harness], AsyncIterator[bytes]],
        **overrides: Any,
    ) -> Harness:
        config = replace(self.config, **overrides)
        respond: Handler = handler.async_handler if isinstance(handler, respx.MockRouter) else handler
        seen = Seen()
        sleeps: list[float] = []

        async def recording(req: httpx.Request) -> httpx.Response:
            await req.aread()
            seen.requests.append(req)
            return await respond(req)

        self.slept = 0.0

        async def sleep(seconds: float) -> None:
            """Time passes without waiting: the bridge's clock jumps by what it slept."""
            sleeps.append(seconds)
            self.slept += seconds
            await anyio.lowlevel.checkpoint()

        def clock() -> float:
            return anyio.current_time() + self.slept

        harness = Harness(sink=FakeSink(), seen=seen, sleeps=sleeps)
        async with httpx.AsyncClient(transport=httpx.MockTransport(recording)) as client:
            upstream = Upstream(
                client,
                URL,
                timeout_s=config.timeout_s,
                headers=config.header_map,
                idle_timeout_s=config.idle_timeout_s,
                max_message_bytes=config.max_message_bytes,
            )
            bridge = Bridge(
                config,
                upstream,
                harness.sink,
                rng=random.Random(7),
                sleep=sleep,
                clock=clock,
                backoff=Backoff(base_s=0.01, cap_s=0.05),
            )
            harness.bridge = bridge

            async def source() -> AsyncIterator[bytes]:
                if callable(lines):
                    async for item in lines(harness):
                        yield item
                else:
                    for item in lines:
                        yield item

            with anyio.fail_after(20):
                await bridge.run(source())
        return harness


@pytest.fixture
def bridge_runner() -> BridgeRunner:
    return BridgeRunner()


class Rpc:
    """Message and response builders, handed to tests as the ``rpc`` fixture."""

    URL = URL
    line = staticmethod(line)
    request = staticmethod(request)
    result = staticmethod(result)
    json_response = staticmethod(json_response)
    sse_response = staticmethod(sse_response)

    @staticmethod
    def initialize(request_id: Any = 0) -> dict[str, Any]:
        return request(
            request_id,
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        )

    @staticmethod
    def initialized() -> dict[str, Any]:
        return {"jsonrpc": "2.0", "method": "notifications/initialized"}

    @staticmethod
    def init_result(request_id: Any) -> dict[str, Any]:
        return result(
            request_id,
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "serverInfo": {"name": "s", "version": "1"},
            },
        )


@pytest.fixture
def rpc() -> type[Rpc]:
    return Rpc
