"""Bursts of HTTP 503 in front of a real server: the one fault the byte-level toxics cannot make.

The TCP fault proxy's toxics delay, slice, reset and close; a *gateway* answering
``503 Service Unavailable`` before the request reaches the server needs to
read the request.  `BurstFront` listens on an address, counts connections, and
answers the connections numbered ``after .. after + burst - 1`` with one 503
(``Connection: close``) after reading their first request in full — so nothing
reaches the server and a client may retry safely.  Every other connection is
piped unchanged to ``upstream`` (normally a `FaultProxy`, which adds the
toxics).  A 503 closes its connection, so the next request opens a new one:
consecutive connections make a burst of consecutive 503 answers.

Mid-session faults (the session soak) act on a running front:

* `arm_burst` — the live connections are closed (as a gateway that reloads
  closes its keep-alive connections) and the next ``n`` connections get 503;
* `reset_all` — every live connection is reset (RST), both sides;
* `partition` — for some seconds no byte passes either way and new
  connections wait; then everything held flows on, as after a network
  partition that TCP rides out;
* `session_ids` — the ``Mcp-Session-Id`` values the server handed out
  through this front, read from response heads, so a fault can make the
  server forget them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import Counter

from agentdock.harness.httpserver import reset_connection
from agentdock.soak.errors import SoakSetupError

__all__ = ["BurstFront"]

log = logging.getLogger(__name__)

_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 4 * 1024 * 1024
_READ_TIMEOUT_S = 10.0
_BODY = b"agentdock soak: injected 503 burst\n"
_SESSION_HEADER = re.compile(rb"\r\nmcp-session-id:[ \t]*([!-~]{1,256})\r\n", re.IGNORECASE)
_SNIFF_TAIL = 512
RESPONSE_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n"
    b"Connection: close\r\n\r\n" + _BODY
)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value.strip())
    return None


def _chunked(head: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            return True
    return False


class BurstFront:
    """A listening socket that answers a burst of connections with 503 and pipes the rest upstream."""

    def __init__(self, *, listen_host: str, upstream: tuple[str, int], after: int, burst: int) -> None:
        self.listen_host = listen_host
        self.upstream = upstream
        self.after = after
        self.burst = burst
        self.port = 0
        self.stats: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._count = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._live: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._open = asyncio.Event()
        self._open.set()
        self._heal: asyncio.TimerHandle | None = None
        #: every Mcp-Session-Id the server sent through this front, oldest first
        self.session_ids: list[str] = []

    # -- mid-session faults ----------------------------------------------------------------------------

    def arm_burst(self, burst: int) -> None:
        """Close the live connections; answer the next ``burst`` connections with 503."""
        self.after, self.burst = self._count, burst
        self.stats["bursts_armed"] += 1
        for client, upstream in list(self._live):
            for writer in (client, upstream):
                if not writer.transport.is_closing():
                    writer.close()

    def reset_all(self) -> None:
        """Reset (RST) every live connection, both sides."""
        self.stats["resets_injected"] += len(self._live)
        for client, upstream in list(self._live):
            reset_connection(client)
            reset_connection(upstream)

    def partition(self, seconds: float) -> None:
        """Hold every byte and every new connection for ``seconds``, then let them all through."""
        self.stats["partitions"] += 1
        self._open.clear()
        if self._heal is not None:
            self._heal.cancel()
        self._heal = asyncio.get_running_loop().call_later(seconds, self._open.set)

    @property
    def partitioned(self) -> bool:
        return not self._open.is_set()

    def _sniff(self, seen: bytes) -> None:
        for found in _SESSION_HEADER.finditer(seen):
            session = found.group(1).decode("ascii")
            if session not in self.session_ids:
                self.session_ids.append(session)

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._on_connect, self.listen_host, 0)
        except OSError as exc:
            raise SoakSetupError(f"cannot listen on {self.listen_host}: {exc}") from exc
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._stopping = True
        if self._heal is not None:
            self._heal.cancel()
        self._open.set()
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def __aenter__(self) -> BurstFront:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self._count
        self._count += 1
        self.stats["connections"] += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self.after <= number < self.after + self.burst:
                await self._answer_503(reader, writer)
            else:
                await self._pipe(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            log.info("burst front connection %s ended: %s", number, exc)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # stop() ends open connections: end quietly (Python 3.11's start_server callback would
            # otherwise log the cancellation as an unhandled error, once per connection).
        finally:
            if task is not None:
                self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def _answer_503(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(_READ_TIMEOUT_S):
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > _HEAD_LIMIT:
                return
            length = _content_length(head)
            if length is not None and 0 < length <= _BODY_LIMIT:
                await reader.readexactly(length)
            elif _chunked(head):
                await reader.readuntil(b"0\r\n\r\n")
        writer.write(RESPONSE_503)
        await writer.drain()
        self.stats["answered_503"] += 1

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._open.wait()  # a partition holds new connections too
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            # The server is down (a restart): the client sees a reset, as from a refused port.
            self.stats["upstream_failures"] += 1
            reset_connection(writer)
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, sniff: bool) -> None:
            tail = b""
            while data := await src.read(65536):
                if sniff:
                    seen = tail + data
                    self._sniff(seen)
                    tail = seen[-_SNIFF_TAIL:]
                await self._open.wait()
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof() and not dst.transport.is_closing():
                with contextlib.suppress(OSError):
                    dst.write_eof()

        pair = (writer, up_writer)
        self._live.add(pair)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(pump(reader, up_writer, False))
                group.create_task(pump(up_reader, writer, True))
        except* OSError:
            # One side was reset (the fault proxy's reset toxic, a restarting server): pass the reset on.
            self.stats["resets"] += 1
            reset_connection(writer)
            reset_connection(up_writer)
        finally:
            self._live.discard(pair)
            if not up_writer.transport.is_closing():
                up_writer.close()
