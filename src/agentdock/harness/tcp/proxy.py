"""An asyncio TCP proxy that applies toxics: put it in front of any real server.

::

    async with FaultProxy("qms", listen="127.0.0.1:0", upstream="127.0.0.1:8765", seed=7) as proxy:
        proxy.add_toxic(toxic_from_dict({"type": "latency", "attributes": {"latency_ms": 50}}))
        ...  # point the client at proxy.address
        await proxy.set_enabled(False)  # refuse new connections and drop live ones

Toxics added or removed at run time take effect on live connections at their
next chunk.  Each connection draws, once per toxic, whether it is affected
(``toxicity``), from a ``random.Random`` seeded with ``(seed, connection
number, toxic name)``: the same seed and the same connection order reproduce
a run.  :class:`ProxySet` holds named proxies for the control API and CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from agentdock.harness.errors import ProxyConfigError
from agentdock.harness.httpserver import reset_connection
from agentdock.harness.tcp.toxics import ClosePeer, Link, ResetPeer, Toxic

__all__ = ["FaultProxy", "ProxySet", "parse_address"]

log = logging.getLogger(__name__)
_READ = 65536


def parse_address(text: str, *, what: str = "address") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) -> (host, port); a clear error otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ProxyConfigError(f"{what} must be HOST:PORT, not {text!r}")
    return host, int(port)


async def _sleep(seconds: float) -> None:
    if math.isinf(seconds):
        await asyncio.Event().wait()
    else:
        await asyncio.sleep(seconds)


class _ClientGone(Exception):
    pass


@dataclass
class _Conn:
    number: int
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None


class FaultProxy:
    """One listening address forwarding to one upstream, through the current toxics."""

    def __init__(
        self,
        name: str,
        *,
        listen: str,
        upstream: str,
        toxics: Iterable[Toxic] = (),
        enabled: bool = True,
        seed: int = 0,
        sleep: Callable[[float], Awaitable[None]] = _sleep,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self.listen_host, self.listen_port = parse_address(listen, what="listen")
        self.upstream_host, self.upstream_port = parse_address(upstream, what="upstream")
        self.seed = seed
        self.enabled = enabled
        self._sleep = sleep
        self._connect_timeout_s = connect_timeout_s
        self._toxics: dict[str, Toxic] = {}
        for toxic in toxics:
            self.add_toxic(toxic)
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[None], _Conn] = {}
        self._count = 0
        self._hits: Counter[str] = Counter()
        #: Figures for tests and reports.
        self.stats: Counter[str] = Counter()

    # -- addresses -------------------------------------------------------------------------------------

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    @property
    def upstream(self) -> str:
        return f"{self.upstream_host}:{self.upstream_port}"

    # -- toxics -----------------------------------------------------------------------------------------

    @property
    def toxics(self) -> list[Toxic]:
        return list(self._toxics.values())

    def add_toxic(self, toxic: Toxic) -> Toxic:
        if toxic.name in self._toxics:
            raise ProxyConfigError(f"proxy {self.name!r} already has a toxic named {toxic.name!r}")
        self._toxics[toxic.name] = toxic
        return toxic

    def update_toxic(self, toxic: Toxic) -> Toxic:
        if toxic.name not in self._toxics:
            raise ProxyConfigError(f"proxy {self.name!r} has no toxic named {toxic.name!r}")
        self._toxics[toxic.name] = toxic
        return toxic

    def remove_toxic(self, name: str) -> None:
        if self._toxics.pop(name, None) is None:
            raise ProxyConfigError(f"proxy {self.name!r} has no toxic named {name!r}")

    def clear_toxics(self) -> None:
        self._toxics.clear()

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self.enabled:
            await self._listen()

    async def stop(self) -> None:
        await self._unlisten()
        await self.reset_connections()

    async def set_enabled(self, enabled: bool) -> None:
        """Disabled: new connections are refused and live ones are dropped; enabled: listen again."""
        if enabled == self.enabled:
            return
        self.enabled = enabled
        if enabled:
            await self._listen()
        else:
            await self._unlisten()
            await self.reset_connections()

    async def reset_connections(self) -> None:
        """Drop every live connection (RST to both sides)."""
        for conn in list(self._conns.values()):
            reset_connection(conn.client)
            if conn.upstream is not None:
                reset_connection(conn.upstream)
        tasks = list(self._conns)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        try:
            self._server = await asyncio.start_server(self._on_connect, self.listen_host, self.listen_port)
        except OSError as exc:
            raise ProxyConfigError(f"proxy {self.name!r} cannot listen on {self.listen}: {exc}") from exc
        self.listen_port = self._server.sockets[0].getsockname()[1]
        log.info("proxy %s listening on %s -> %s", self.name, self.listen, self.upstream)

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    # -- connections ------------------------------------------------------------------------------------------

    def _active(self, toxic: Toxic, link: Link) -> bool:
        decisions = link.state.setdefault("", {})
        if toxic.name not in decisions:
            rng = random.Random(f"{self.seed}:{link.connection}:{toxic.name}")
            hit = toxic.toxicity >= 1.0 or rng.random() < toxic.toxicity
            if hit and toxic.max_connections is not None:
                hit = self._hits[toxic.name] < toxic.max_connections
            if hit:
                self._hits[toxic.name] += 1
            decisions[toxic.name] = hit
        return bool(decisions[toxic.name])

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._count += 1
        conn = _Conn(self._count, writer)
        task = asyncio.create_task(self._serve(conn, reader))
        self._conns[task] = conn
        try:
            await asyncio.wait({task})
        finally:
            self._conns.pop(task, None)

    async def _serve(self, conn: _Conn, client_reader: asyncio.StreamReader) -> None:
        self.stats["connections"] += 1
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except (OSError, TimeoutError) as exc:
            log.info("proxy %s: upstream %s unreachable: %s", self.name, self.upstream, exc)
            self.stats["upstream_failures"] += 1
            reset_connection(conn.client)
            return
        conn.upstream = up_writer
        links = {
            s: Link(conn.number, s, random.Random(f"{self.seed}:{conn.number}:{s}"), self._sleep)
            for s in ("upstream", "downstream")
        }
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pump(client_reader, up_writer, links["upstream"]))
                group.create_task(self._pump(up_reader, conn.client, links["downstream"]))
        except* ResetPeer as group_exc:
            log.info("proxy %s conn %s: %s", self.name, conn.number, group_exc.exceptions[0])
            self.stats["resets"] += 1
            reset_connection(conn.client)
            reset_connection(up_writer)
        except* ClosePeer as group_exc:
            log.info("proxy %s conn %s: %s", self.name, conn.number, group_exc.exceptions[0])
            self.stats["closes"] += 1
        except* _ClientGone:
            pass
        except* OSError:
            reset_connection(conn.client)
            reset_connection(up_writer)
        finally:
            for w in (conn.client, up_writer):
                if not w.transport.is_closing():
                    w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link) -> None:
        while True:
            data = await reader.read(_READ)
            chain = [t for t in self._toxics.values() if t.stream == link.stream and self._active(t, link)]
            await self._through(chain, data, link, writer)
            if not data:
                if writer.can_write_eof() and not writer.transport.is_closing():
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                if link.stream == "upstream":
                    # An HTTP client that closes its side is gone: end the whole connection rather
                    # than wait on a server reply nobody will read (a blackholed one never comes).
                    raise _ClientGone
                return
            self.stats[f"bytes_{link.stream}"] += len(data)

    async def _through(
        self, chain: list[Toxic], data: bytes, link: Link, writer: asyncio.StreamWriter
    ) -> None:
        if not chain:
            if data:
                writer.write(data)
                await writer.drain()
            return
        head, rest = chain[0], chain[1:]
        produced = False
        async for piece in head.process(data, link):
            if piece:
                produced = True
                await self._through(rest, piece, link, writer)
        if not data and not produced:
            await self._through(rest, b"", link, writer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_dict() for t in self._toxics.values()],
            "stats": dict(self.stats),
        }


class ProxySet:
    """Named proxies, started and stopped together (what the control API manages)."""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self.proxies: dict[str, FaultProxy] = {}

    async def create(self, name: str, *, listen: str, upstream: str, enabled: bool = True) -> FaultProxy:
        if not name:
            raise ProxyConfigError("a proxy needs a name")
        if name in self.proxies:
            raise ProxyConfigError(f"a proxy named {name!r} already exists")
        proxy = FaultProxy(name, listen=listen, upstream=upstream, enabled=enabled, seed=self.seed)
        await proxy.start()
        self.proxies[name] = proxy
        return proxy

    def get(self, name: str) -> FaultProxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ProxyConfigError(f"no proxy named {name!r}") from None

    async def delete(self, name: str) -> None:
        await self.get(name).stop()
        del self.proxies[name]

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's ``POST /reset``)."""
        for proxy in self.proxies.values():
            proxy.clear_toxics()
            await proxy.set_enabled(True)

    async def close(self) -> None:
        for proxy in list(self.proxies.values()):
            await proxy.stop()
        self.proxies.clear()
