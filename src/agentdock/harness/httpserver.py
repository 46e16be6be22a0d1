"""A small asyncio HTTP/1.1 server for ASGI apps (h11 framing), with a connection-abort extension.

Why not uvicorn: the fault server must be able to drop a connection *before*
any status line, or reset it (RST) mid-body — things an ASGI app cannot ask of
uvicorn.  This server offers the ASGI extension ``agentdock.abort``
(``{"type": "agentdock.abort", "rst": bool}``) for that, keeps connections
alive between requests, reports client disconnects as ``http.disconnect``, and
runs in-process as an async context manager on ``127.0.0.1:0`` by default::

    async with AsgiServer(app, host="127.0.0.1", port=0) as server:
        print(server.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any

import h11

from agentdock.harness.errors import ServerStartError

__all__ = ["AsgiServer", "reset_connection"]

log = logging.getLogger(__name__)

App = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
_READ = 65536


def reset_connection(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Aborted(Exception):
    pass


class AsgiServer:
    """Serve ``app`` on ``host:port`` (0: any free port) until the context exits."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._tasks: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> AsgiServer:
        try:
            self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        except OSError as exc:
            raise ServerStartError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening, close every connection (cancelling apps that do not notice), and wait."""
        if self._server is None:
            return
        self._server.close()
        for task, writer in list(self._tasks.items()):
            writer.transport.abort()
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        await self._server.wait_closed()
        self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The work runs in a task of our own: cancelling it at shutdown must not surface as an
        # error in asyncio's handler-task callback.
        task = asyncio.create_task(self._serve_connection(reader, writer))
        self._tasks[task] = writer
        try:
            await asyncio.wait({task})
        finally:
            self._tasks.pop(task, None)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _Connection(self.app, reader, writer).run()
        except (OSError, asyncio.IncompleteReadError, _Aborted, asyncio.CancelledError):
            pass
        except h11.ProtocolError as exc:
            log.warning("HTTP framing error on a connection: %r", exc)
        finally:
            if not writer.transport.is_closing():
                writer.close()


class _Connection:
    def __init__(self, app: App, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.app = app
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.SERVER)
        self.closed = asyncio.Event()

    async def _next_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(_READ)
            self.conn.receive_data(data)

    def _write(self, event: Any) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)

    async def run(self) -> None:
        while True:
            try:
                event = await self._next_event()
            except h11.RemoteProtocolError as exc:
                with contextlib.suppress(h11.LocalProtocolError):
                    self._write(
                        h11.Response(
                            status_code=400, headers=[("content-length", "0"), ("connection", "close")]
                        )
                    )
                    self._write(h11.EndOfMessage())
                    await self.writer.drain()
                log.debug("bad request: %s", exc)
                return
            if not isinstance(event, h11.Request):  # ConnectionClosed, or a protocol state we do not serve
                return
            body = bytearray()
            while True:
                part = await self._next_event()
                if isinstance(part, h11.Data):
                    body += part.data
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    return
            await self._serve(event, bytes(body))
            if self.conn.our_state is not h11.DONE or self.conn.their_state is not h11.DONE:
                return
            self.conn.start_next_cycle()

    async def _serve(self, request: h11.Request, body: bytes) -> None:
        sock = self.writer.get_extra_info("sockname")
        peer = self.writer.get_extra_info("peername")
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.http_version.decode(),
            "method": request.method.decode("latin-1"),
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers],
            "client": tuple(peer[:2]) if peer else None,
            "server": tuple(sock[:2]) if sock else None,
            "extensions": {"agentdock.abort": {}},
        }
        delivered = False
        started = False
        watcher = asyncio.create_task(self._watch_disconnect())

        async def receive() -> MutableMapping[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await self.closed.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if self.closed.is_set():
                raise ConnectionResetError("client disconnected")
            kind = message["type"]
            if kind == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", [])]
                self._write(h11.Response(status_code=message["status"], headers=headers))
            elif kind == "http.response.body":
                if message.get("body"):
                    self._write(h11.Data(data=message["body"]))
                if not message.get("more_body", False):
                    self._write(h11.EndOfMessage())
            elif kind == "agentdock.abort":
                self.closed.set()
                if message.get("rst"):
                    reset_connection(self.writer)
                else:
                    await self.writer.drain()
                    self.writer.close()
                raise _Aborted
            await self.writer.drain()

        try:
            await self.app(scope, receive, send)
        except _Aborted:
            raise
        except OSError:
            raise
        except Exception as exc:
            log.warning("ASGI app failed: %r", exc)
            if not started:
                self._write(
                    h11.Response(status_code=500, headers=[("content-length", "0"), ("connection", "close")])
                )
                self._write(h11.EndOfMessage())
                await self.writer.drain()
            raise _Aborted from exc
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch_disconnect(self) -> None:
        """While the app runs, notice the client leaving (buffer anything it pipelines)."""
        while True:
            data = await self.reader.read(_READ)
            if not data:
                self.closed.set()
                return
            self.conn.receive_data(data)
