"""KeepAlivePool: httpcore's pool with a one-pass assignment step; the connections it keeps, reuses and closes.

Driven over an in-memory network backend (no sockets): each connection reads
scripted HTTP/1.1 responses, and the backend counts connections opened.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpcore
import pytest

from agentdock.proxy.pool import KeepAlivePool

pytestmark = pytest.mark.anyio

URL = "http://server.test/mcp"
OTHER = "http://other.test/mcp"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Stream(httpcore.AsyncMockStream):
    """A scripted connection whose server side can hang up (then it reads as 'readable': EOF pending)."""

    def __init__(self, buffer: list[bytes]) -> None:
        super().__init__(buffer)
        self.hung_up = False
        self.closed = False

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self.hung_up
        return super().get_extra_info(info)

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


class Backend(httpcore.AsyncMockBackend):
    """Opens :class:`Stream` connections, each scripted with ``responses`` replies, and keeps them."""

    def __init__(self, responses: int = 20) -> None:
        super().__init__([RESPONSE] * responses)
        self.streams: list[Stream] = []

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> Stream:
        stream = Stream(list(self._buffer))
        self.streams.append(stream)
        return stream


def pool(backend: Backend, *, max_connections: int = 10, keepalive: int = 10) -> KeepAlivePool:
    return KeepAlivePool(
        max_connections=max_connections, max_keepalive_connections=keepalive, network_backend=backend
    )


async def get(p: KeepAlivePool, url: str = URL) -> bytes:
    async with p.stream("GET", url) as response:
        return await response.aread()


async def open_responses(p: KeepAlivePool, n: int, url: str = URL) -> list[httpcore.Response]:
    """``n`` responses whose bodies are not read yet: each holds its connection."""
    host = httpcore.URL(url).host
    return [
        await p.handle_async_request(httpcore.Request("GET", url, headers=[(b"Host", host)]))
        for _ in range(n)
    ]


async def finish(responses: list[httpcore.Response]) -> None:
    for response in responses:
        await response.aread()
        await response.aclose()


async def test_sequential_requests_reuse_one_connection() -> None:
    backend = Backend()
    async with pool(backend) as p:
        for _ in range(8):
            assert await get(p) == b"ok"
        assert len(backend.streams) == 1
        assert len(p.connections) == 1


async def test_requests_in_flight_together_get_a_connection_each_and_then_share_them() -> None:
    backend = Backend()
    async with pool(backend) as p:
        await finish(await open_responses(p, 4))
        assert len(backend.streams) == 4
        await finish(await open_responses(p, 4))  # all four idle ones are reused
        assert len(backend.streams) == 4


async def test_idle_connections_beyond_the_keepalive_limit_are_closed() -> None:
    backend = Backend()
    async with pool(backend, keepalive=2) as p:
        await finish(await open_responses(p, 5))
        assert len(p.connections) == 2
        assert sum(s.closed for s in backend.streams) == 3


async def test_a_connection_the_server_hung_up_is_closed_instead_of_reused() -> None:
    backend = Backend()
    async with pool(backend) as p:
        assert await get(p) == b"ok"
        (first,) = backend.streams
        first.hung_up = True
        assert await get(p) == b"ok"
        assert len(backend.streams) == 2
        assert first.closed
        assert p.connections and all(c.can_handle_request(httpcore.URL(URL).origin) for c in p.connections)


async def test_at_the_connection_limit_a_request_waits_for_one_to_free_up() -> None:
    backend = Backend()
    async with pool(backend, max_connections=2) as p:
        held = await open_responses(p, 2)
        pending: list[bytes] = []

        async def third() -> None:
            pending.append(await get(p))

        async with anyio.create_task_group() as tg:
            tg.start_soon(third)
            await anyio.wait_all_tasks_blocked()
            assert pending == []  # queued: both connections are busy
            await finish(held[:1])
        assert pending == [b"ok"]
        await finish(held[1:])
        assert len(backend.streams) == 2


async def test_another_origin_takes_the_place_of_an_idle_connection_at_the_limit() -> None:
    backend = Backend()
    async with pool(backend, max_connections=1) as p:
        assert await get(p, URL) == b"ok"
        assert await get(p, OTHER) == b"ok"
        assert len(backend.streams) == 2 and backend.streams[0].closed
        (connection,) = p.connections
        assert connection.can_handle_request(httpcore.URL(OTHER).origin)
