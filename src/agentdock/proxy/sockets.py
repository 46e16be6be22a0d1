# ruff: noqa: ASYNC109 - httpcore's network-backend interface takes its timeouts as arguments
"""A network backend for httpcore on asyncio's own transports, for plain-HTTP upstreams.

httpcore (under httpx) does its socket I/O through a pluggable *network
backend*. The default one goes through anyio's socket streams, which pay for
generality on every call: a ``send`` yields to the event loop once more after
writing (a shielded checkpoint), a ``receive`` switches the socket's read
interest on and off again (two ``epoll_ctl`` calls when it has to wait), and
each call runs its own exception-mapping context and cancel scope. Profiled at
32 requests in flight, that machinery was about a sixth of the proxy's CPU.

:class:`AsyncioBackend` keeps httpcore's connections, h11 parsing, pool and
error types, and replaces only the socket layer with an :class:`asyncio.Protocol`:

* received data is buffered as it arrives (reading is paused only while more
  than :data:`_READ_HIGH` bytes wait unread); a ``read`` with data buffered
  returns it at once, otherwise it waits on one future;
* ``write`` is *corked*: what httpcore writes for one request (its head, then
  its body) is held and goes out as one ``send`` when httpcore starts reading
  the response (or once :data:`_CORK_LIMIT` bytes are held) — one segment
  where there were two, so the server also wakes once per request, not twice.
  Nothing is held across a wait: httpcore always reads after it writes a request;
* a timeout gets a cancel scope only when there is something to wait for.

It serves ``http://`` only (cli.make_client installs it for a direct, plain-HTTP
upstream); TLS and proxies keep httpcore's default backend.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import httpcore

__all__ = ["AsyncioBackend", "AsyncioStream"]

_RECV_BYTES = 1 << 16
"""The most one socket read takes (httpcore asks for 64 KiB at a time)."""
_READ_HIGH = 1 << 20
"""Unread bytes past which the socket is no longer read (flow control) until httpcore catches up."""
_CORK_LIMIT = 1 << 16
"""Bytes held back for one ``send`` at most; a larger body goes out as it is written."""

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class _Protocol(asyncio.BufferedProtocol):
    """Buffers what the socket receives and tells a waiting reader (or writer) when to go on.

    The socket is read into ``recv_buffer``, shared by every connection of one
    backend (the event loop fills it and calls :meth:`buffer_updated` at once, so
    no two reads overlap): asyncio's default would allocate 256 KiB per read,
    which the C allocator maps and unmaps each time.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, recv_buffer: memoryview) -> None:
        self._loop = loop
        self._recv_buffer = recv_buffer
        self.transport: asyncio.Transport | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.eof = False
        self.lost = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self._waiter: asyncio.Future[bool] | None = None
        self._drained: asyncio.Future[bool] | None = None

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._recv_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.chunks.append(bytes(self._recv_buffer[:nbytes]))
        self.buffered += nbytes
        if self.buffered > _READ_HIGH and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        _wake(self._waiter)

    def eof_received(self) -> bool:
        self.eof = True
        _wake(self._waiter)
        return False  # the transport closes itself: HTTP/1.1 sends nothing after the server's EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        _wake(self._waiter)
        _wake(self._drained)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self._drained)

    # -- waits (one reader and one writer at a time: httpcore serialises them per connection)

    async def readable(self, timeout: float | None) -> bool:
        """Wait for data, the end of the stream or a wake-up; ``False`` if ``timeout`` passed first."""
        self._waiter = waiter = self._loop.create_future()
        return await self._wait(waiter, timeout)

    async def drained(self, timeout: float | None) -> bool:
        """Wait until the transport takes writes again; ``False`` if ``timeout`` passed first."""
        self._drained = waiter = self._loop.create_future()
        return await self._wait(waiter, timeout)

    async def _wait(self, waiter: asyncio.Future[bool], timeout: float | None) -> bool:
        # A timer on the future, not a cancel scope: most reads wait, and a scope costs far more.
        timer = self._loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if self._waiter is waiter:
                self._waiter = None
            if self._drained is waiter:
                self._drained = None

    def take(self, max_bytes: int) -> bytes:
        chunk = self.chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            self.chunks.appendleft(rest)
        self.buffered -= len(chunk)
        if self.reading_paused and self.buffered <= _READ_HIGH // 2 and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return chunk


def _wake(waiter: asyncio.Future[bool] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(True)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or Unix) connection: buffered reads, corked writes (see the module docstring)."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if self._held:
            # As httpcore does when a request cannot be sent: read what the server said, if anything.
            with contextlib.suppress(httpcore.WriteError):
                self._send_held()
        waiting = not (protocol.chunks or protocol.eof or protocol.lost or self._closed)
        if waiting and not await protocol.readable(timeout):
            raise httpcore.ReadTimeout(f"nothing received for {timeout:g} s")
        if self._closed:
            raise httpcore.ReadError("the connection was closed")
        if protocol.chunks:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""  # the server closed the connection: h11 decides what that means here

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._check_writable()
        self._held.append(bytes(buffer))
        self._held_bytes += len(buffer)
        if self._held_bytes < _CORK_LIMIT:
            return
        self._send_held()
        if self._protocol.writing_paused:
            if not await self._protocol.drained(timeout):
                raise httpcore.WriteTimeout(f"could not send within {timeout:g} s")
            self._check_writable()

    def _send_held(self) -> None:
        held, self._held, self._held_bytes = self._held, [], 0
        self._check_writable()
        self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def _check_writable(self) -> None:
        if self._closed:
            raise httpcore.WriteError("the connection was closed")
        if self._protocol.lost or self._transport.is_closing():
            error = self._protocol.error
            raise httpcore.WriteError(str(error) if error else "the server closed the connection")

    async def aclose(self) -> None:
        self._closed = True
        self._held.clear()
        self._transport.abort()  # connection_lost follows: a read waiting on this connection ends (ReadError)

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("TLS is not served by this backend (plain http:// only)")

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # httpcore asks this of an idle keep-alive connection: anything to read (or an EOF)
            # then means the server has closed it.
            protocol = self._protocol
            return bool(protocol.chunks) or protocol.eof or protocol.lost
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections as :class:`AsyncioStream` (asyncio only: the proxy runs on anyio's asyncio backend)."""

    def __init__(self) -> None:
        self._recv_buffer = memoryview(bytearray(_RECV_BYTES))

    def _protocol(self) -> _Protocol:
        return _Protocol(asyncio.get_running_loop(), self._recv_buffer)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        return await _connect(
            lambda: loop.create_connection(self._protocol, host, port, local_addr=local),
            timeout,
            socket_options,
            f"{host}:{port}",
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connect(
            lambda: loop.create_unix_connection(self._protocol, path), timeout, socket_options, path
        )

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


async def _connect(
    opener: Callable[[], Awaitable[tuple[asyncio.BaseTransport, _Protocol]]],
    timeout: float | None,
    options: Iterable[SocketOption] | None,
    where: str,
) -> AsyncioStream:
    try:
        with anyio.fail_after(timeout):
            transport, protocol = await opener()
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"connect to {where} timed out") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    assert isinstance(transport, asyncio.Transport)
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        for option in options or ():
            sock.setsockopt(*option)
    return AsyncioStream(transport, protocol)
