"""The fault MCP server's fault kinds: each edits an :class:`~agentdock.harness.http.exchange.Exchange`.

Each class is registered by ``kind`` and documented by ``summary``; settings
carry their units in their names.  ``handle=False`` means the request never
reaches the MCP handler (no side effect runs); faults that cut a response
*after* handling model the nastiest case for a client: the tool ran but its
answer was lost.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Literal

from agentdock.harness.http.exchange import Exchange, Rejection
from agentdock.harness.http.model import Fault, register

__all__ = ["FAULT_KINDS"]

MIB = 1024 * 1024


def _notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def _log(text: str) -> dict[str, Any]:
    return _notification(
        "notifications/message", {"level": "info", "logger": "agentdock.faults", "data": text}
    )


# -- connection cut-offs ----------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class Refuse(Fault):
    kind = "refuse"
    summary = "reset the connection before handling the request (it never ran)"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.handle = False
        exchange.cut = "before_headers"
        exchange.rst = True


@register
@dataclass(frozen=True, kw_only=True)
class CloseBeforeHeaders(Fault):
    kind = "close_before_headers"
    summary = "handle the request (side effects run), then close without sending any response"
    rst: bool = False

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.cut = "before_headers"
        exchange.rst = self.rst


@register
@dataclass(frozen=True, kw_only=True)
class CloseAfterHeaders(Fault):
    kind = "close_after_headers"
    summary = "send status and headers, then close before any body"
    rst: bool = False

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.cut = "after_headers"
        exchange.rst = self.rst


@register
@dataclass(frozen=True, kw_only=True)
class DropBeforeResponse(Fault):
    kind = "drop_before_response"
    summary = "SSE: send a notification, then break the stream before the response event"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.before.append(_log("working on it"))
        exchange.cut = "before_response"


@register
@dataclass(frozen=True, kw_only=True)
class DropAfterResponse(Fault):
    kind = "drop_after_response"
    summary = "SSE: send the response event, then break the stream instead of ending it"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.cut = "after_response"


@register
@dataclass(frozen=True, kw_only=True)
class TruncatedBody(Fault):
    kind = "truncated_body"
    summary = "JSON response cut halfway through its declared Content-Length"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "json"
        exchange.cut = "mid_body"


# -- pacing -------------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class DelayHeaders(Fault):
    kind = "delay_headers"
    summary = "wait before sending status and headers"
    delay_ms: int = 1000
    jitter_ms: int = 0

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        jitter = rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        exchange.delay_headers_s += max(0.0, self.delay_ms + jitter) / 1000


@register
@dataclass(frozen=True, kw_only=True)
class DelayEvents(Fault):
    kind = "delay_events"
    summary = "SSE: wait before each event (and before a JSON body)"
    delay_ms: int = 200

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.event_delay_s = self.delay_ms / 1000


@register
@dataclass(frozen=True, kw_only=True)
class Trickle(Fault):
    kind = "trickle"
    summary = "send the body in small chunks with a pause between them"
    chunk_bytes: int = 16
    delay_ms: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.chunk_bytes < 1:
            raise ValueError("chunk_bytes must be >= 1")

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.chunk_bytes = self.chunk_bytes
        exchange.chunk_delay_s = self.delay_ms / 1000


@register
@dataclass(frozen=True, kw_only=True)
class SplitBytes(Fault):
    kind = "split_bytes"
    summary = "SSE: every byte of the stream in its own chunk (an event split at every boundary)"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.chunk_bytes = 1
        exchange.chunk_delay_s = 0.0


# -- statuses -------------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class Status(Fault):
    kind = "status"
    summary = "answer an HTTP error status (JSON, HTML, text or empty body) instead of the result"
    status: int = 500
    body: Literal["json", "html", "text", "empty"] = "json"
    message: str = ""
    retry_after_s: int | None = None
    #: Run the request first (its side effects happen), then answer the status: a lost response.
    execute: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 400 <= self.status <= 599:
            raise ValueError(f"status must be 4xx or 5xx, not {self.status}")

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        headers = [] if self.retry_after_s is None else [("retry-after", str(self.retry_after_s))]
        if self.status == 401:
            headers.append(("www-authenticate", 'Bearer realm="agentdock-faults"'))
        if self.status == 405:
            headers.append(("allow", "GET, DELETE"))
        exchange.rejection = Rejection(self.status, self.body, self.message, headers)
        exchange.handle = self.execute


@register
@dataclass(frozen=True, kw_only=True)
class RateLimit(Fault):
    kind = "rate_limit"
    summary = "429 Too Many Requests with Retry-After (seconds)"
    retry_after_s: int = 1

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.rejection = Rejection(
            429, "json", "rate limited", [("retry-after", str(self.retry_after_s))]
        )
        exchange.handle = False


@register
@dataclass(frozen=True, kw_only=True)
class SessionExpired(Fault):
    kind = "session_expired"
    summary = "forget the caller's session, so this and later requests get 404 until it re-initialises"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.expire_session = True


@register
@dataclass(frozen=True, kw_only=True)
class Restart(Fault):
    kind = "restart"
    summary = "the server restarts: every session is lost (idempotency records are durable, as on disk)"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.restart = True


# -- response mode and content type --------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class JsonResponse(Fault):
    kind = "json_response"
    summary = "answer with a plain application/json body"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "json"


@register
@dataclass(frozen=True, kw_only=True)
class SseResponse(Fault):
    kind = "sse_response"
    summary = "answer with a text/event-stream"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"


@register
@dataclass(frozen=True, kw_only=True)
class WrongContentType(Fault):
    kind = "wrong_content_type"
    summary = "send the body under a wrong Content-Type"
    content_type: str = "text/plain; charset=utf-8"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.content_type = self.content_type


@register
@dataclass(frozen=True, kw_only=True)
class MissingContentType(Fault):
    kind = "missing_content_type"
    summary = "send the body with no Content-Type header at all"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.content_type = ""


# -- SSE framing variants -----------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class SseCrlf(Fault):
    kind = "sse_crlf"
    summary = "SSE lines end in CRLF"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.newline = "\r\n"


@register
@dataclass(frozen=True, kw_only=True)
class SseCr(Fault):
    kind = "sse_cr"
    summary = "SSE lines end in a bare CR"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.newline = "\r"


@register
@dataclass(frozen=True, kw_only=True)
class SseMultilineData(Fault):
    kind = "sse_multiline_data"
    summary = "SSE: each JSON message spread over several data: lines"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.multiline_data = True


@register
@dataclass(frozen=True, kw_only=True)
class SseComments(Fault):
    kind = "sse_comments"
    summary = "SSE: keep-alive comments and unknown fields between events"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.comments = True


@register
@dataclass(frozen=True, kw_only=True)
class SseBom(Fault):
    kind = "sse_bom"
    summary = "SSE: the stream starts with a UTF-8 byte-order mark"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.bom = True


@register
@dataclass(frozen=True, kw_only=True)
class SseRetry(Fault):
    kind = "sse_retry"
    summary = "SSE: a retry: field and id: on every event"
    retry_ms: int = 1500

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.retry_ms = self.retry_ms
        exchange.event_ids = True


@register
@dataclass(frozen=True, kw_only=True)
class HugeEvent(Fault):
    kind = "huge_event"
    summary = "SSE: the response is a single event over 1 MiB (padding in result._meta)"
    pad_bytes: int = MIB + 4096

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.pad_bytes = self.pad_bytes


# -- extra and malformed messages ----------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class Interleave(Fault):
    kind = "interleave"
    summary = "SSE: a server request (ping) and notifications arrive before the response"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        request_id = f"agentdock-srv-{rng.getrandbits(32):08x}"
        exchange.before.append(_log("before the response"))
        exchange.before.append({"jsonrpc": "2.0", "id": request_id, "method": "ping"})
        exchange.before.append(_notification("notifications/tools/list_changed", {}))


@register
@dataclass(frozen=True, kw_only=True)
class SlowProgress(Fault):
    kind = "slow_progress"
    summary = "SSE: a long call — progress notifications (or log messages) spaced out before the response"
    count: int = 3
    delay_ms: int = 400

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.before_delay_s = self.delay_ms / 1000
        token = None
        for message in exchange.request.messages:
            meta = (message.get("params") or {}).get("_meta") or {}
            token = meta.get("progressToken", token)
        for step in range(1, self.count + 1):
            if token is None:
                exchange.before.append(_log(f"step {step}/{self.count}"))
            else:
                params = {"progressToken": token, "progress": step, "total": self.count}
                exchange.before.append(_notification("notifications/progress", params))


@register
@dataclass(frozen=True, kw_only=True)
class DuplicateResponse(Fault):
    kind = "duplicate_response"
    summary = "SSE: the response event is sent twice"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.duplicate_response = True


@register
@dataclass(frozen=True, kw_only=True)
class UnknownId(Fault):
    kind = "unknown_id"
    summary = "SSE: a response for an id the client never sent arrives before the real one"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        stray = f"agentdock-unknown-{rng.getrandbits(32):08x}"
        exchange.before.append({"jsonrpc": "2.0", "id": stray, "result": {}})


@register
@dataclass(frozen=True, kw_only=True)
class InvalidJsonEvent(Fault):
    kind = "invalid_json_event"
    summary = "SSE: an event whose data is not JSON arrives before the response"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.before.append(b'{"jsonrpc": "2.0", "method": "notifications/message", "params": {')


@register
@dataclass(frozen=True, kw_only=True)
class Garble(Fault):
    kind = "garble"
    summary = "JSON response body replaced by bytes that are not JSON (the request did run)"

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "json"
        exchange.garble = json.dumps({"garbled": rng.getrandbits(16)}).encode()[:-3] + b"\xff\xfe"


# -- streams that do not end -------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class Hang(Fault):
    kind = "hang"
    summary = "SSE: headers, then never a response; the stream stays open (optional keep-alive comments)"
    keepalive_ms: int = 0

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.hang = True
        exchange.keepalive_s = self.keepalive_ms / 1000


@register
@dataclass(frozen=True, kw_only=True)
class Linger(Fault):
    kind = "linger"
    summary = "SSE: the response is sent but the stream never ends"
    keepalive_ms: int = 0

    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        exchange.mode = "sse"
        exchange.after = "linger"
        exchange.keepalive_s = self.keepalive_ms / 1000


FAULT_KINDS: tuple[str, ...] = (
    "refuse",
    "close_before_headers",
    "close_after_headers",
    "drop_before_response",
    "drop_after_response",
    "truncated_body",
    "delay_headers",
    "delay_events",
    "trickle",
    "split_bytes",
    "status",
    "rate_limit",
    "session_expired",
    "restart",
    "json_response",
    "sse_response",
    "wrong_content_type",
    "missing_content_type",
    "sse_crlf",
    "sse_cr",
    "sse_multiline_data",
    "sse_comments",
    "sse_bom",
    "sse_retry",
    "huge_event",
    "interleave",
    "slow_progress",
    "duplicate_response",
    "unknown_id",
    "invalid_json_event",
    "garble",
    "hang",
    "linger",
)
