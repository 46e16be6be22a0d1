"""Errors of the stdio⇄Streamable-HTTP proxy, and the JSON-RPC codes they become.

Exception tree (foreign exceptions — httpx, OSError — are translated once, in
:mod:`agentdock.proxy.transport`, with ``raise ... from exc``)::

    ProxyError
    ├── ConfigError                 bad command line; the CLI exits 2
    ├── SinkClosed                  stdout is gone (broken pipe); the proxy ends cleanly
    ├── WarmServerError             the warm-start server cannot listen (socket folder not ours, one already runs)
    └── UpstreamError               one HTTP exchange with the server failed
        ├── UpstreamUnreachable     connect refused / connect timeout: the request never arrived
        ├── UpstreamStatus          the server answered an HTTP error status (carries status, Retry-After)
        ├── ResponseTimeout         no response started within --timeout (the request may have arrived)
        ├── StreamDropped           the connection or SSE stream ended before the response (may have arrived)
        ├── UpstreamProtocolError   a body the Streamable HTTP transport does not allow (bad JSON, content type)
        └── SessionExpired          the server forgot our Mcp-Session-Id (404); recovered by re-initialising

Every client request that the proxy cannot complete is answered with a JSON-RPC
error whose code is one of the ``*_CODE`` constants below (the implementation-
defined server-error range -32000..-32099; codes the MCP specification already
uses there, -32020..-32022 and -32042, are avoided), whose message names what
failed (HTTP status, attempts, elapsed time) and whose ``data`` carries details.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AUTH_REJECTED_CODE",
    "DEADLINE_EXCEEDED_CODE",
    "INTERNAL_ERROR_CODE",
    "INVALID_REQUEST_CODE",
    "OUTCOME_UNKNOWN_CODE",
    "PARSE_ERROR_CODE",
    "PROXY_SHUTDOWN_CODE",
    "SESSION_LOST_CODE",
    "UPSTREAM_HTTP_ERROR_CODE",
    "UPSTREAM_PROTOCOL_ERROR_CODE",
    "UPSTREAM_TIMEOUT_CODE",
    "UPSTREAM_UNREACHABLE_CODE",
    "ConfigError",
    "ProxyError",
    "ResponseTimeout",
    "SessionExpired",
    "SinkClosed",
    "StreamDropped",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamStatus",
    "UpstreamUnreachable",
    "WarmServerError",
]

# JSON-RPC 2.0 standard codes the proxy itself produces.
PARSE_ERROR_CODE = -32700
"""A stdin line that is not JSON."""
INVALID_REQUEST_CODE = -32600
"""JSON that is not a JSON-RPC message (or an empty batch, or an id already in flight)."""
INTERNAL_ERROR_CODE = -32603
"""A bug in the proxy; the message carries the exception."""

# Implementation-defined server errors (-32000..-32099).
UPSTREAM_UNREACHABLE_CODE = -32000
"""Could not connect to the server (same meaning as the SDK's CONNECTION_CLOSED)."""
UPSTREAM_TIMEOUT_CODE = -32001
"""The server did not start answering within --timeout (same meaning as the SDK's REQUEST_TIMEOUT)."""
UPSTREAM_HTTP_ERROR_CODE = -32003
"""The server answered an HTTP error status without a JSON-RPC error body."""
OUTCOME_UNKNOWN_CODE = -32004
"""A request with side effects may or may not have run; the proxy did not retry it."""
UPSTREAM_PROTOCOL_ERROR_CODE = -32005
"""The server's answer broke the Streamable HTTP transport rules (content type, JSON, 202 for a request)."""
SESSION_LOST_CODE = -32006
"""The server forgot the session and it could not be re-established."""
DEADLINE_EXCEEDED_CODE = -32007
"""--max-time elapsed before the request completed."""
PROXY_SHUTDOWN_CODE = -32008
"""The proxy was shutting down (stdin closed, SIGTERM) before the request completed."""
AUTH_REJECTED_CODE = -32009
"""The server answered 401 or 403: the bearer token (``--header Authorization=...``) is missing or wrong."""


class ProxyError(Exception):
    """Base of every error the proxy raises."""


class ConfigError(ProxyError):
    """A bad command line or environment value; the message says which and why."""


class SinkClosed(ProxyError):
    """The client's side of stdout is closed; nothing more can be delivered."""


class WarmServerError(ProxyError):
    """The warm-start server (:mod:`agentdock.proxy.warm`) cannot listen; proxies then start cold."""


class UpstreamError(ProxyError):
    """One HTTP exchange with the server failed.

    ``reached_server`` says whether the request may have reached the server
    (``False`` only when it certainly did not: refused connection, connect
    timeout, 429/503 that says it was not processed). Retry decisions use
    ``failure`` (a :class:`agentdock.proxy.retry.Failure` value) and this flag.
    """

    failure: str = "upstream"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = dict(details or {})


class UpstreamUnreachable(UpstreamError):
    """The connection could not be made; the request never arrived."""

    def __init__(
        self, message: str, *, timed_out: bool = False, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.failure = "connect_timeout" if timed_out else "connect"


class UpstreamStatus(UpstreamError):
    """The server answered with an HTTP error status (and no JSON-RPC error body)."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        retry_after_s: float | None = None,
        body_excerpt: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status} {reason}".rstrip(), details=details)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.body_excerpt = body_excerpt
        self.failure = f"status_{status}"


class ResponseTimeout(UpstreamError):
    """No response started within ``--timeout``; the request may have arrived."""

    failure = "response_timeout"


class StreamDropped(UpstreamError):
    """The connection or SSE stream ended before the response arrived.

    ``last_event_id`` and ``retry_ms`` are the SSE resumption state, when the
    server gave event ids: the stream can then be resumed with a GET carrying
    ``Last-Event-ID`` instead of re-sending the request.
    """

    failure = "stream_dropped"

    def __init__(
        self,
        message: str,
        *,
        last_event_id: str | None = None,
        retry_ms: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.last_event_id = last_event_id
        self.retry_ms = retry_ms


class UpstreamProtocolError(UpstreamError):
    """The server's answer is not one the Streamable HTTP transport allows."""

    failure = "protocol"


class SessionExpired(UpstreamError):
    """HTTP 404 for a request that carried ``Mcp-Session-Id``: the server no longer knows the session."""

    failure = "session_expired"

    def __init__(self, session_id: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"server no longer knows session {session_id[:16]}… (HTTP 404)", details=details)
        self.session_id = session_id
