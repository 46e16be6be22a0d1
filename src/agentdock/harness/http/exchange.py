"""One HTTP exchange with the fault server: the request as it arrived, and the response as faults shape it.

Faults never touch sockets.  They edit an :class:`Exchange` — a declarative
description of what the server will do (reach the MCP handler or not, which
status, JSON or SSE, how the bytes are framed, paced, cut) — and
:mod:`agentdock.harness.http.render` turns it into a list of :mod:`ops
<agentdock.harness.ops>` that the ASGI app plays.  That split is what lets
every fault be unit-tested without a socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Cut", "Exchange", "Outcome", "Rejection", "Request"]

#: Where a response is cut off (the connection is closed, or reset with ``rst``).
#:
#: ``before_headers``  nothing is sent: the client sees the connection close with no response
#: ``after_headers``   status and headers are sent, then the connection closes
#: ``before_response`` SSE: the ``before`` events are sent, the response event never is
#: ``after_response``  the response is sent but the body never terminates properly
#: ``mid_body``        the body is cut halfway (a JSON body shorter than its Content-Length)
Cut = Literal["before_headers", "after_headers", "before_response", "after_response", "mid_body"]


@dataclass(frozen=True)
class Request:
    """An HTTP request as the fault server received it."""

    http_method: str
    path: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes = b""

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The JSON-RPC messages in the body ([] when it is not a JSON object or array of objects)."""
        try:
            data = json.loads(self.body) if self.body else None
        except ValueError:
            return []
        items = data if isinstance(data, list) else [data]
        return [m for m in items if isinstance(m, dict)]

    @property
    def rpc_method(self) -> str | None:
        """The method of the first message that has one (requests and notifications)."""
        for message in self.messages:
            method = message.get("method")
            if isinstance(method, str):
                return method
        return None

    @property
    def session_id(self) -> str | None:
        return self.headers.get("mcp-session-id")

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class Rejection:
    """A status answered instead of the MCP result."""

    status: int
    body: Literal["json", "html", "text", "empty"] = "json"
    message: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Exchange:
    """What the server will do with one request; faults edit it, the renderer plays it."""

    request: Request
    #: False: the MCP handler never sees the request (no side effect runs, nothing is journaled as executed).
    handle: bool = True
    #: Answer with this status instead of the MCP result (the handler runs only if ``handle`` stays True).
    rejection: Rejection | None = None
    #: Server-state faults, applied before the handler runs.
    expire_session: bool = False
    restart: bool = False

    # -- response shape ---------------------------------------------------------------
    mode: Literal["auto", "json", "sse"] = "auto"
    #: ``None`` keeps the natural Content-Type; ``""`` removes the header; anything else replaces it.
    content_type: str | None = None
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    delay_headers_s: float = 0.0
    #: Pause before each SSE event (and before a JSON body).
    event_delay_s: float = 0.0
    #: ``None``: each event (or the JSON body) is one chunk; ``n``: chunks of ``n`` bytes.
    chunk_bytes: int | None = None
    chunk_delay_s: float = 0.0

    # -- SSE framing ------------------------------------------------------------------
    newline: Literal["\n", "\r\n", "\r"] = "\n"
    multiline_data: bool = False
    comments: bool = False
    bom: bool = False
    retry_ms: int | None = None
    event_ids: bool = False
    #: Extra bytes of padding inside the response's ``result._meta`` (a single huge event).
    pad_bytes: int = 0

    # -- extra messages and stream endings -------------------------------------------------
    #: SSE events sent before the response: dicts are JSON-RPC messages, bytes are raw ``data:`` payloads.
    before: list[dict[str, Any] | bytes] = field(default_factory=list)
    #: Seconds to wait before each ``before`` event (progress over a long call).
    before_delay_s: float = 0.0
    duplicate_response: bool = False
    cut: Cut | None = None
    #: Reset (RST) instead of a clean close when cutting.
    rst: bool = False
    #: After the response: ``close`` ends the stream; ``linger`` keeps it open until the client leaves.
    after: Literal["close", "linger"] = "close"
    #: Never send the response; keep the stream open (with keep-alive comments) until the client leaves.
    hang: bool = False
    #: While hanging or lingering, send a keep-alive comment this often (0: stay silent).
    keepalive_s: float = 0.0
    #: Replace the JSON body with these bytes (the handler still ran).
    garble: bytes | None = None
    #: The fault kinds applied to this exchange, in order (journaled).
    applied: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What the MCP handler answered, before faults shape how it goes on the wire."""

    status: int
    #: JSON-RPC messages to send back ([] for 202 Accepted and empty bodies).
    messages: list[dict[str, Any]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: The request body was a JSON array: a JSON answer is an array too.
    batch: bool = False
    #: Error statuses carry a JSON-RPC error body but are never streamed as SSE.
    stream: bool = True
