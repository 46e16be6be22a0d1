"""AsyncioBackend: httpcore's socket layer on asyncio transports, against real sockets on 127.0.0.1.

Each test runs a small raw TCP server (asyncio streams) so what crosses the wire
is seen byte for byte: one send per request (head and body corked together),
reads that return buffered data, EOF and resets, timeouts, flow control, and
httpx on top of it all as the proxy uses it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import httpcore
import httpx
import pytest

from agentdock.proxy import sockets
from agentdock.proxy.pool import keepalive_transport
from agentdock.proxy.sockets import AsyncioBackend

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[int]:
    """A raw server on 127.0.0.1; yields its port. Connections still open at the end are closed."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with suppress(ConnectionError, asyncio.IncompleteReadError):
            await handler(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 request with a Content-Length body (or none), as sent."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server that accepts and then says nothing."""
    await asyncio.sleep(10)


def client() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=30)
    return httpx.AsyncClient(transport=keepalive_transport(verify=False, limits=limits, plain_http=True))


async def test_httpx_requests_go_over_it_and_keep_their_connection() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            request = await read_request(reader)
            body = request.split(b"\r\n\r\n", 1)[1]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    async with tcp_server(handler) as port, client() as http:
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, AsyncioBackend)
        for i in range(5):
            response = await http.post(f"http://127.0.0.1:{port}/mcp", content=b"payload-%d" % i)
            assert response.status_code == 200 and response.content == b"payload-%d" % i
    assert connections == 1


async def test_a_request_head_and_body_leave_in_one_send() -> None:
    """Corked: the server's first read holds the whole request, not just its head."""
    first_reads: list[bytes] = []
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first_reads.append(await reader.read(65536))
        writer.write(OK)
        await writer.drain()

    sends: list[bytes] = []  # every transport write in this process: the client's and the server's
    real_write = asyncio.selector_events._SelectorSocketTransport.write  # type: ignore[attr-defined]

    def counting_write(self: Any, data: Any) -> None:
        sends.append(bytes(data))
        real_write(self, data)

    async with tcp_server(handler) as port, client() as http:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(asyncio.selector_events._SelectorSocketTransport, "write", counting_write)  # type: ignore[attr-defined]
            response = await http.post(f"http://127.0.0.1:{port}/mcp", content=body)
    assert response.status_code == 200
    client_sends = [data for data in sends if data != OK]
    assert len(client_sends) == 1
    assert client_sends[0].startswith(b"POST /mcp HTTP/1.1\r\n") and client_sends[0].endswith(body)
    assert first_reads == client_sends


async def connect(port: int, **kw: Any) -> httpcore.AsyncNetworkStream:
    return await AsyncioBackend().connect_tcp("127.0.0.1", port, **kw)


async def test_reads_return_what_is_buffered_split_at_max_bytes_then_eof() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"0123456789")
        await writer.drain()
        writer.close()

    async with tcp_server(handler) as port:
        stream = await connect(port)
        got = b""
        with anyio.fail_after(5):
            while True:
                chunk = await stream.read(4)
                assert len(chunk) <= 4
                if not chunk:
                    break
                got += chunk
        assert got == b"0123456789"
        assert await stream.read(4) == b""  # EOF stays EOF
        assert stream.get_extra_info("is_readable")  # an idle connection with EOF pending: expired
        await stream.aclose()


async def test_a_silent_server_is_a_read_timeout_and_a_refused_port_a_connect_error() -> None:
    async with tcp_server(silent) as port:
        stream = await connect(port)
        assert not stream.get_extra_info("is_readable")
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(1024, timeout=0.05)
        await stream.aclose()

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with pytest.raises(httpcore.ConnectError):
        await connect(free)


async def test_a_connect_that_never_completes_is_a_connect_timeout() -> None:
    never = asyncio.get_running_loop().create_future()

    async def opener() -> Any:
        return await never

    with pytest.raises(httpcore.ConnectTimeout):
        await sockets._connect(opener, 0.05, None, "nowhere")


async def test_a_reset_connection_fails_reads_and_writes() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()  # RST

    async with tcp_server(handler) as port:
        stream = await connect(port)
        await stream.write(b"x")
        with anyio.fail_after(5):
            with pytest.raises(httpcore.ReadError):
                await stream.read(1024)  # flushes the corked byte, then sees the reset
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"more")
        await stream.aclose()


async def test_an_answer_sent_before_the_request_could_leave_is_still_read() -> None:
    """A server that answers at once and hangs up (a 503 at accept): the corked request cannot be
    sent any more, and the read returns the answer instead of failing on the write."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async with tcp_server(handler) as port:
        stream = await connect(port)
        await stream.write(b"POST /mcp HTTP/1.1\r\n\r\n")  # held: nothing has left yet
        assert isinstance(stream, sockets.AsyncioStream)
        with anyio.fail_after(5):
            while not stream._protocol.lost:  # the server's answer and hang-up arrive first
                await anyio.sleep(0.01)
            assert (await stream.read(1024)).startswith(b"HTTP/1.1 503")
            assert await stream.read(1024) == b""
        await stream.aclose()


async def test_closing_a_connection_ends_a_read_waiting_on_it() -> None:
    async with tcp_server(silent) as port:
        stream = await connect(port)
        errors: list[BaseException] = []

        async def reader() -> None:
            try:
                await stream.read(1024)
            except httpcore.ReadError as exc:
                errors.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(reader)
                await anyio.sleep(0.02)
                await stream.aclose()
        assert len(errors) == 1
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"x")


async def test_a_cancelled_read_leaves_the_stream_usable() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(4)
        writer.write(b"pong")
        await writer.drain()
        await asyncio.sleep(10)

    async with tcp_server(handler) as port:
        stream = await connect(port)
        with anyio.move_on_after(0.05):
            await stream.read(1024)  # nothing comes: cancelled from outside
        await stream.write(b"ping")
        with anyio.fail_after(5):
            assert await stream.read(1024) == b"pong"
        await stream.aclose()


async def test_a_body_past_the_cork_limit_goes_out_and_a_reader_that_stops_is_a_write_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop_reading = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop_reading.wait()  # never reads: the kernel buffers fill, then asyncio's

    async with tcp_server(handler) as port:
        stream = await connect(port)
        sent = 0
        with anyio.fail_after(10), pytest.raises(httpcore.WriteTimeout):
            while True:  # each write exceeds the cork limit, so it is sent (not held) at once
                await stream.write(b"x" * (sockets._CORK_LIMIT + 1), timeout=0.2)
                sent += 1
        assert sent >= 1
        stop_reading.set()
        await stream.aclose()


async def test_unread_data_past_the_high_mark_pauses_reading_until_it_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sockets, "_READ_HIGH", 64 * 1024)
    total = 1024 * 1024

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"y" * total)
        await writer.drain()
        writer.close()

    async with tcp_server(handler) as port:
        stream = await connect(port)
        assert isinstance(stream, sockets.AsyncioStream)
        protocol = stream._protocol
        with anyio.fail_after(5):
            while not protocol.reading_paused:
                await anyio.sleep(0.01)
        assert protocol.buffered <= sockets._READ_HIGH + sockets._RECV_BYTES
        got = 0
        with anyio.fail_after(10):
            while chunk := await stream.read(65536):
                got += len(chunk)
        assert got == total and not protocol.reading_paused
        await stream.aclose()


async def test_tls_is_refused_not_attempted() -> None:
    async with tcp_server(silent) as port:
        stream = await connect(port)
        with pytest.raises(httpcore.ConnectError, match="plain http"):
            await stream.start_tls(ssl_context=None)
        await stream.aclose()
