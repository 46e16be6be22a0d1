"""Turn an :class:`~agentdock.harness.http.exchange.Exchange` and the handler's outcome into wire operations.

The result is a plain list of :data:`Op` values — start, body bytes, sleep,
abort, hang, end — that the ASGI app plays.  Being data, it is what the unit
tests inspect: the exact bytes and pauses a fault produces, without a socket.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from agentdock.harness.http.exchange import Exchange, Outcome

__all__ = ["Abort", "Body", "End", "Hang", "Op", "Sleep", "Start", "render", "sse_event"]

BOM = "\ufeff".encode()
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Start:
    status: int
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Body:
    data: bytes


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Abort:
    """Close the connection now (``rst``: with a TCP reset) without finishing the response."""

    rst: bool = False


@dataclass(frozen=True)
class Hang:
    """Keep the response open until the client disconnects, sending a comment every ``keepalive_s``."""

    keepalive_s: float = 0.0
    comment: bytes = b": keep-alive\n\n"


@dataclass(frozen=True)
class End:
    pass


Op = Start | Body | Sleep | Abort | Hang | End


def sse_event(
    data: str,
    *,
    newline: str = "\n",
    multiline: bool = False,
    event_id: str | None = None,
    retry_ms: int | None = None,
    comments: bool = False,
) -> bytes:
    """One SSE event (``event: message``) carrying ``data``, framed as asked."""
    lines: list[str] = []
    if comments:
        lines += [": keep-alive", "x-agentdock-unknown-field: ignored"]
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("event: message")
    data_lines = data.split("\n") if multiline else [data]
    lines += [f"data: {line}" for line in data_lines]
    return (newline.join(lines) + newline + newline).encode()


def _error_body(status: int, kind: str, message: str) -> tuple[bytes, str]:
    text = message or f"{status} {_REASONS.get(status, 'Error')} (injected by agentdock faults)"
    if kind == "html":
        page = f"<!DOCTYPE html><html><head><title>{status}</title></head><body><h1>{html.escape(text)}</h1></body></html>"
        return page.encode(), "text/html; charset=utf-8"
    if kind == "text":
        return text.encode(), "text/plain; charset=utf-8"
    if kind == "empty":
        return b"", ""
    err = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32000, "message": text, "data": {"status": status}},
    }
    return json.dumps(err).encode(), "application/json"


def _pad(message: dict[str, Any], pad_bytes: int) -> dict[str, Any]:
    if "result" not in message or not isinstance(message["result"], dict):
        return message
    result = dict(message["result"])
    meta = dict(result.get("_meta") or {})
    meta["agentdock/padding"] = "x" * pad_bytes
    result["_meta"] = meta
    return {**message, "result": result}


def _chunks(data: bytes, ex: Exchange) -> list[Op]:
    if ex.chunk_bytes is None or not data:
        return [Body(data)] if data else []
    ops: list[Op] = []
    for i in range(0, len(data), ex.chunk_bytes):
        if i and ex.chunk_delay_s:
            ops.append(Sleep(ex.chunk_delay_s))
        ops.append(Body(data[i : i + ex.chunk_bytes]))
    return ops


def _headers(ex: Exchange, base: list[tuple[str, str]], content_type: str) -> tuple[tuple[str, str], ...]:
    if ex.content_type is not None:
        content_type = ex.content_type
    headers = [(k, v) for k, v in base if k.lower() != "content-type"]
    if content_type:
        headers.insert(0, ("content-type", content_type))
    return tuple(headers + ex.extra_headers)


def render(ex: Exchange, outcome: Outcome | None) -> list[Op]:
    """The operations that put ``outcome`` (None: the handler never ran) on the wire, faults applied."""
    ops: list[Op] = []
    if ex.delay_headers_s:
        ops.append(Sleep(ex.delay_headers_s))
    if ex.cut == "before_headers":
        return [*ops, Abort(ex.rst)]

    if ex.rejection is not None or outcome is None:
        rejection = ex.rejection
        status = rejection.status if rejection else 500
        body, ctype = _error_body(
            status, rejection.body if rejection else "json", rejection.message if rejection else ""
        )
        extra = list(rejection.headers) if rejection else []
        headers = _headers(ex, [*extra, ("content-length", str(len(body)))], ctype)
        return [*ops, *_plain(ex, status, headers, body)]

    messages = [_pad(m, ex.pad_bytes) if ex.pad_bytes else m for m in outcome.messages]
    if not messages and not ex.before and not ex.hang:
        headers = _headers(ex, [*outcome.headers, ("content-length", "0")], "")
        return [*ops, *_plain(ex, outcome.status, headers, b"")]

    if ex.mode == "json" or not outcome.stream:
        if ex.garble is not None:
            body = ex.garble
        else:
            payload: Any = messages if outcome.batch else (messages[0] if messages else None)
            body = json.dumps(payload).encode()
        headers = _headers(ex, [*outcome.headers, ("content-length", str(len(body)))], "application/json")
        return [*ops, *_plain(ex, outcome.status, headers, body)]

    return [*ops, *_stream(ex, outcome, messages)]


def _plain(ex: Exchange, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> list[Op]:
    ops: list[Op] = [Start(status, headers)]
    if ex.cut == "after_headers":
        return [*ops, Abort(ex.rst)]
    if ex.event_delay_s and body:
        ops.append(Sleep(ex.event_delay_s))
    if ex.cut in ("mid_body", "before_response"):
        return [*ops, *_chunks(body[: len(body) // 2], ex), Abort(ex.rst)]
    ops += _chunks(body, ex)
    if ex.cut == "after_response":
        return [*ops, Abort(ex.rst)]
    if ex.after == "linger" or ex.hang:
        return [*ops, Hang(ex.keepalive_s)]
    return [*ops, End()]


def _stream(ex: Exchange, outcome: Outcome, messages: list[dict[str, Any]]) -> list[Op]:
    headers = _headers(ex, [*outcome.headers, ("cache-control", "no-cache")], "text/event-stream")
    ops: list[Op] = [Start(outcome.status, headers)]
    if ex.cut == "after_headers":
        return [*ops, Abort(ex.rst)]
    counter = iter(range(1, 1_000_000))

    def frame(data: str) -> bytes:
        first = not any(isinstance(op, Body) for op in ops)
        event = sse_event(
            data,
            newline=ex.newline,
            multiline=ex.multiline_data,
            event_id=str(next(counter)) if ex.event_ids else None,
            retry_ms=ex.retry_ms if first else None,
            comments=ex.comments,
        )
        return (BOM + event) if (first and ex.bom) else event

    def emit(data: bytes, delay: float) -> None:
        if delay:
            ops.append(Sleep(delay))
        ops.extend(_chunks(data, ex))

    for extra in ex.before:
        if isinstance(extra, bytes):
            text = extra.decode("utf-8", "replace")
        else:
            text = json.dumps(extra, indent=1 if ex.multiline_data else None)
        emit(frame(text), ex.before_delay_s or ex.event_delay_s)
    if ex.hang:
        return [*ops, Hang(ex.keepalive_s, ex.newline.join([": keep-alive", "", ""]).encode())]
    if ex.cut == "before_response":
        return [*ops, Abort(ex.rst)]
    responses = messages * (2 if ex.duplicate_response else 1)
    for message in responses:
        text = json.dumps(message, indent=1 if ex.multiline_data else None)
        data = frame(text)
        if ex.cut == "mid_body":
            emit(data[: len(data) // 2], ex.event_delay_s)
            return [*ops, Abort(ex.rst)]
        emit(data, ex.event_delay_s)
    if ex.cut == "after_response":
        return [*ops, Abort(ex.rst)]
    if ex.after == "linger":
        return [*ops, Hang(ex.keepalive_s, ex.newline.join([": keep-alive", "", ""]).encode())]
    return [*ops, End()]
