"""The guarded connection layer, with real sockets on 127.0.0.1 and uvicorn in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from agentdock.mcphost.bodylimit import BodyLimitMiddleware, HeadLimitMiddleware
from agentdock.mcphost.guard import ConnectionGuard
from agentdock.mcphost.limits import Limits
from agentdock.mcphost.serve import bind_sockets, uvicorn_config


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every request with the size of its body."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serving(limits: Limits) -> AsyncIterator[int]:
    app = HeadLimitMiddleware(
        BodyLimitMiddleware(echo_app, limits.max_body_bytes),
        max_header_bytes=limits.max_header_bytes,
        max_body_bytes=limits.max_body_bytes,
    )
    sockets = bind_sockets(["127.0.0.1"], 0)
    server = uvicorn.Server(uvicorn_config(app, limits))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, sockets)
            with anyio.fail_after(10):
                while not server.started:
                    await anyio.sleep(0.01)
            try:
                yield sockets[0].getsockname()[1]
            finally:
                server.should_exit = True
    finally:
        for sock in sockets:
            sock.close()


async def read_until_closed(stream: anyio.abc.ByteStream) -> bytes:
    data = b""
    with anyio.fail_after(10):
        while True:
            try:
                data += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
                return data


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def get(port: int) -> bytes:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        return await read_until_closed(stream)


@pytest.mark.anyio
async def test_connections_over_the_per_peer_cap_are_closed_before_a_byte_is_read() -> None:
    async with serving(Limits(max_connections_per_peer=3, read_timeout_s=30)) as port:
        held = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(3)]
        try:
            async with await anyio.connect_tcp("127.0.0.1", port) as extra:
                await extra.send(GET)
                assert await read_until_closed(extra) == b""  # closed, not answered
            async with await anyio.connect_tcp("127.0.0.1", port, local_host="127.0.0.2") as other_peer:
                await other_peer.send(GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
                answer = await read_until_closed(other_peer)
                assert answer.startswith(b"HTTP/1.1 200")  # another peer is not affected
        finally:
            for stream in held:
                await stream.aclose()
        # the slots come back when connections close
        with anyio.fail_after(10):
            while not (await get(port)).startswith(b"HTTP/1.1 200"):
                await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_connections_over_the_total_cap_are_closed() -> None:
    async with serving(Limits(max_connections=2, read_timeout_s=30)) as port:  # noqa: SIM117 - the connection needs the port
        async with (
            await anyio.connect_tcp("127.0.0.1", port, local_host="127.0.0.3"),
            await anyio.connect_tcp("127.0.0.1", port, local_host="127.0.0.4"),
            await anyio.connect_tcp("127.0.0.1", port) as extra,
        ):
            await extra.send(GET)
            assert await read_until_closed(extra) == b""


def test_the_guard_counts_per_peer_and_releases() -> None:
    guard = ConnectionGuard(Limits(max_connections=3, max_connections_per_peer=2))
    assert guard.admit("a") and guard.admit("a") and not guard.admit("a")
    assert guard.admit("b") and not guard.admit("c")
    guard.release("a")
    assert guard.admit("c") and guard.refused == 2
    for peer in ("a", "b", "c"):
        guard.release(peer)
    assert guard.total == 0 and guard.per_peer == {}


@pytest.mark.anyio
async def test_a_trickled_head_is_answered_408_at_the_read_deadline_however_many_bytes_arrive() -> None:
    async with serving(Limits(read_timeout_s=0.5, idle_timeout_s=30)) as port:  # noqa: SIM117 - the connection needs the port
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            answer = b""
            with anyio.fail_after(10):
                for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
                    try:
                        await stream.send(bytes([byte]))
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionResetError):
                        break
                    with anyio.move_on_after(0.05):
                        try:
                            answer += await stream.receive()
                        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
                            break
                    if answer:
                        break
            answer += await read_until_closed(stream)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")


@pytest.mark.anyio
async def test_a_keep_alive_connection_serves_requests_then_closes_when_idle() -> None:
    async with serving(Limits(read_timeout_s=30, idle_timeout_s=0.3)) as port:  # noqa: SIM117 - the connection needs the port
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            for _ in range(3):
                await stream.send(GET)
                with anyio.fail_after(10):
                    assert (await stream.receive()).startswith(b"HTTP/1.1 200")
            assert await read_until_closed(stream) == b""


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n",
            b"431",
        ),  # complete head, one chunk
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000, b"431"),  # a head that keeps growing
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", b"413"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"400\r\n"
            + b"y" * 1024
            + b"\r\n" * 1,
            b"413",
        ),
        (b"NOT HTTP\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n", b"400"),
    ],
    ids=["head", "growing head", "declared body", "streamed body", "garbage", "bad length"],
)
async def test_oversized_and_malformed_requests_get_4xx_and_the_server_keeps_serving(
    request_bytes: bytes, status: bytes
) -> None:
    async with serving(Limits(max_header_bytes=2048, max_body_bytes=1000, read_timeout_s=5)) as port:
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(request_bytes)
            answer = await read_until_closed(stream)
        assert answer.split(b" ", 2)[1] == status, answer[:200]
        assert (await get(port)).startswith(b"HTTP/1.1 200")
