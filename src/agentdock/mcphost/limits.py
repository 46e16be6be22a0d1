"""How much a connection may take from a server: timeouts, connection caps, request sizes.

:class:`Limits` is resolved once from flags (see :mod:`agentdock.mcphost.options`) and
enforced in two places that neither server can bypass:

* the connection layer (:mod:`agentdock.mcphost.guard`): ``max_connections`` in total and
  ``max_connections_per_peer`` per client address (excess connections are closed as they
  are accepted, before any parsing or auth); a request head and body must arrive in full
  within ``read_timeout_s`` (a slowloris sender is answered ``408`` and closed); an idle
  keep-alive connection is closed after ``idle_timeout_s``; a request head over
  ``max_header_bytes`` gets ``431``.
* the session layer: an MCP session with no request in flight for ``session_lifetime_s`` is
  forgotten (the SDK's session idle timeout); its next request gets ``404`` and a client
  starts a new session.
* the request layer (:mod:`agentdock.mcphost.bodylimit`): a body over ``max_body_bytes``
  gets ``413`` (announced by ``Content-Length`` or counted as it streams).
* shutdown: on SIGTERM the server stops accepting, closes idle connections, and gives the
  requests in flight ``shutdown_grace_s`` to finish; then it cancels what is left and exits.
  Without that bound, one connection whose response never completes (a listening stream, a
  peer that stopped reading, a half-open link) held every restart: measured in the launch
  soak, stopping the servers took 4.5-5.3 s while a proxy was connected through a lossy
  link, against 0.4 s without, and clients (Claude Code waits 5 s for its tools) gave up.

:func:`raise_nofile_limit` lifts the soft ``RLIMIT_NOFILE`` to the hard limit, and
:meth:`Limits.fitted` keeps the connection cap below what the process may open.
"""

from __future__ import annotations

import dataclasses
import resource
from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "FD_RESERVE", "Limits", "raise_nofile_limit"]

#: File descriptors kept free for everything that is not a client connection (logs, git, QMS files).
FD_RESERVE = 128


@dataclass(frozen=True)
class Limits:
    """Per-server bounds; every field has a flag of the same name (``--read-timeout`` …)."""

    read_timeout_s: float = 10.0
    idle_timeout_s: float = 5.0
    max_connections: int = 1024
    max_connections_per_peer: int = 64
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1024 * 1024
    #: forget a Streamable HTTP session after this long without a request (the SDK's default, 30 min)
    session_lifetime_s: float = 1800.0
    #: on SIGTERM, how long requests still in flight may finish before they are cancelled
    shutdown_grace_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("read_timeout_s", "idle_timeout_s", "session_lifetime_s", "shutdown_grace_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("max_connections", "max_connections_per_peer", "max_header_bytes", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    def fitted(self, nofile_soft: int) -> Limits:
        """These limits with ``max_connections`` lowered to fit ``nofile_soft`` descriptors."""
        if nofile_soft == resource.RLIM_INFINITY:
            return self
        room = max(1, nofile_soft - FD_RESERVE)
        if self.max_connections <= room:
            return self
        return dataclasses.replace(
            self,
            max_connections=room,
            max_connections_per_peer=min(self.max_connections_per_peer, room),
        )


DEFAULT_LIMITS = Limits()


def raise_nofile_limit() -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit where allowed; return ``(soft, hard)`` after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # some platforms cap the soft limit below an infinite hard one
            return soft, hard
        soft = hard
    return soft, hard
