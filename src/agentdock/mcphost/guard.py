"""The connection layer both servers run on: uvicorn's h11 protocol with caps and deadlines.

:func:`guarded_protocol` returns an ``asyncio.Protocol`` class for ``uvicorn.Config(http=...)``
that enforces a :class:`~agentdock.mcphost.limits.Limits` per server:

* **caps** — :class:`ConnectionGuard` counts open connections in total and per client
  address; a connection over either cap is aborted in ``connection_made``, before a byte
  is parsed or a token checked, so half-open connections cannot use up the descriptors
  a legitimate caller needs.
* **read deadline** — from the moment a connection can send a request (it opened, or the
  previous response ended) the request head and body must arrive in full within
  ``read_timeout_s``; otherwise the server answers ``408`` (when it has not started a
  response) and closes.  A sender trickling one header byte every few seconds is closed
  at the deadline however many bytes it sends.
* **idle** — uvicorn's keep-alive timer (``idle_timeout_s``) closes a connection that
  sends nothing after a response.
* **head size** — a request head growing past ``max_header_bytes`` gets ``431`` and the
  connection is closed; h11 itself answers malformed requests with ``400``.

Body sizes are checked per request by :mod:`agentdock.mcphost.bodylimit`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from agentdock.mcphost.limits import Limits

__all__ = ["ConnectionGuard", "GuardedH11Protocol", "guarded_protocol", "h11_buffer_limit"]

log = logging.getLogger("agentdock.mcphost.guard")


def h11_buffer_limit(limits: Limits) -> int:
    """h11's own incomplete-event cap: a backstop above ``max_header_bytes`` (whose check gives 431)."""
    return limits.max_header_bytes + 256 * 1024


def _status(code: int, reason: str, text: str) -> bytes:
    body = (text + "\n").encode("utf-8")
    head = (
        f"HTTP/1.1 {code} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ConnectionGuard:
    """Open-connection counts, in total and per peer address, against the caps of ``limits``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.per_peer: dict[str, int] = {}
        #: Connections refused since start (for logs and tests).
        self.refused = 0

    def admit(self, peer: str) -> bool:
        """Count a new connection from ``peer``; False (and not counted) when a cap is reached."""
        held = self.per_peer.get(peer, 0)
        if self.total >= self.limits.max_connections or held >= self.limits.max_connections_per_peer:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning(
                    "refusing connections over the cap (%d open, %d from %s; %d refused so far)",
                    self.total,
                    held,
                    peer,
                    self.refused,
                )
            return False
        self.total += 1
        self.per_peer[peer] = held + 1
        return True

    def release(self, peer: str) -> None:
        self.total -= 1
        left = self.per_peer.get(peer, 1) - 1
        if left > 0:
            self.per_peer[peer] = left
        else:
            self.per_peer.pop(peer, None)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol under a :class:`ConnectionGuard` and a read deadline."""

    guard: ClassVar[ConnectionGuard]
    limits: ClassVar[Limits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._peer: str | None = None  # set once admitted
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    # -- admission ---------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peername = transport.get_extra_info("peername")
        peer = str(peername[0]) if isinstance(peername, tuple) and peername else "?"
        if not self.guard.admit(peer):
            transport.abort()
            return
        self._peer = peer
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._peer is None:
            return  # refused at admission: uvicorn never saw it
        self._disarm()
        self.guard.release(self._peer)
        self._peer = None
        super().connection_lost(exc)

    # -- reading a request -------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        waiting_for_head = self.conn.their_state is h11.IDLE
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.IDLE and waiting_for_head:
            self._head_bytes += len(data)  # the whole chunk went into a head that is still incomplete
            if self._head_bytes > self.limits.max_header_bytes:
                self._reject(431, "Request Header Fields Too Large", "request head too large")
        elif state is not h11.IDLE:
            self._head_bytes = 0
            if state is not h11.SEND_BODY:  # DONE / MUST_CLOSE: read in full; ERROR: uvicorn answered 400
                self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state not in (h11.DONE, h11.MUST_CLOSE):
            self._arm()  # the next request (or the rest of this one's body) is on the clock

    # -- deadline ----------------------------------------------------------------------------------
    def _arm(self) -> None:
        self._disarm()
        self._head_bytes = 0
        self._deadline = self.loop.call_later(self.limits.read_timeout_s, self._read_timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.info(
            "closing a connection from %s: request not received within %ss",
            self._peer,
            self.limits.read_timeout_s,
        )
        self._reject(408, "Request Timeout", f"request not received within {self.limits.read_timeout_s:g} s")

    def _reject(self, code: int, reason: str, text: str) -> None:
        """Answer ``code`` when no response has started for this request, then close."""
        if self.conn.our_state is h11.IDLE:
            self.transport.write(_status(code, reason, text))
        self.transport.close()


def guarded_protocol(limits: Limits, guard: ConnectionGuard | None = None) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass bound to ``limits`` and one shared guard."""
    bound_guard = guard or ConnectionGuard(limits)
    return type("BoundGuardedH11Protocol", (GuardedH11Protocol,), {"guard": bound_guard, "limits": limits})
