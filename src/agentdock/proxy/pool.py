"""A keep-alive connection pool whose bookkeeping costs the same at 1 or 64 requests in flight.

httpcore's ``AsyncConnectionPool`` re-examines every connection each time a
request starts or a response closes: it asks every connection whether it has
expired (an idle one answers with a ``poll`` and a ``getpeername`` system call)
and, for each idle one, counts the whole pool again. With 32 requests in
flight and their connections kept alive that is thousands of calls per
request; profiled at concurrency 32 it was most of the proxy's CPU.

:class:`KeepAlivePool` keeps httpcore's connections, request queue, waiting
and error handling, and replaces only that step
(``_assign_requests_to_connections``) with one that does the same job in one
pass: closed connections are dropped; idle ones beyond the keep-alive limit
are closed; a queued request takes the most recently used idle connection,
which alone is checked for expiry (the one that would be reused — an expired
one is closed and the next tried), else a new connection while under the
limit, else it waits. An idle connection already promised to a request that
has not started yet is not handed to a second one (httpcore would, and then
retry the loser).

:func:`keepalive_transport` builds httpx's own transport (every option as
httpx sets it) on this pool. httpcore is pinned in the image; should a future
version lack the step, the transport keeps httpcore's pool unchanged.
"""

from __future__ import annotations

import logging

import httpcore
import httpx

from agentdock.proxy.sockets import AsyncioBackend

__all__ = ["KeepAlivePool", "keepalive_transport"]

log = logging.getLogger(__name__)


class KeepAlivePool(httpcore.AsyncConnectionPool):
    """httpcore's pool with a linear-time assignment step (see the module docstring)."""

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        promised = {id(r.connection) for r in self._requests if r.connection is not None}
        live = [c for c in self._connections if not c.is_closed()]
        idle = [c for c in live if id(c) not in promised and c.is_idle()]
        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:
            closing.extend(idle[:surplus])
            idle = idle[surplus:]
            dropped = {id(c) for c in closing}
            live = [c for c in live if id(c) not in dropped]
        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            connection = self._reusable(idle, live, closing, origin)
            if connection is None and len(live) < self._max_connections:
                connection = self.create_connection(origin)
                live.append(connection)
            elif connection is None and idle:
                victim = idle.pop(0)  # the longest idle: make room for this origin
                live.remove(victim)
                closing.append(victim)
                connection = self.create_connection(origin)
                live.append(connection)
            if connection is not None:
                pool_request.assign_to_connection(connection)
        self._connections = live
        return closing

    def _reusable(
        self,
        idle: list[httpcore.AsyncConnectionInterface],
        live: list[httpcore.AsyncConnectionInterface],
        closing: list[httpcore.AsyncConnectionInterface],
        origin: httpcore.Origin,
    ) -> httpcore.AsyncConnectionInterface | None:
        """An idle connection for ``origin`` (taken out of ``idle``), newest first, checked for expiry."""
        for index in range(len(idle) - 1, -1, -1):
            candidate = idle[index]
            if not candidate.can_handle_request(origin):
                continue
            del idle[index]
            if candidate.has_expired():
                live.remove(candidate)
                closing.append(candidate)
            elif candidate.is_available():
                return candidate
        if not self._http2:
            return None  # a busy HTTP/1.1 connection takes no second request
        for candidate in live:
            if not candidate.is_idle() and candidate.can_handle_request(origin) and candidate.is_available():
                return candidate
        return None


def keepalive_transport(
    *, verify: bool, limits: httpx.Limits, plain_http: bool = False
) -> httpx.AsyncHTTPTransport:
    """httpx's HTTP/1.1 transport, its pool a :class:`KeepAlivePool` (no proxy: for direct hosts).

    With ``plain_http`` (an ``http://`` upstream) its sockets are asyncio's own
    (:class:`agentdock.proxy.sockets.AsyncioBackend`) instead of anyio's.
    """
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore.AsyncConnectionPool and hasattr(pool, "_assign_requests_to_connections"):
        pool.__class__ = KeepAlivePool  # same state, only the assignment step differs
        if plain_http and hasattr(pool, "_network_backend"):
            pool._network_backend = AsyncioBackend()
    else:  # pragma: no cover - an httpx/httpcore this module was not written for
        log.debug("keeping httpcore's own pool (%s)", type(pool).__name__)
    return transport
