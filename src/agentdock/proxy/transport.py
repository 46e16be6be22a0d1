"""The Streamable HTTP client side: one exchange at a time, over an injected ``httpx.AsyncClient``.

This module is the only place that knows HTTP. It builds the headers the
transport requires (``Accept``, ``Content-Type``, ``Mcp-Session-Id``,
``MCP-Protocol-Version``, and for 2026-07-28 requests ``Mcp-Method`` /
``Mcp-Name``), sends a message, and reads the answer whether it is ``202``, a
JSON body or an SSE stream — handing every server request and notification on
that stream to a callback and returning the response. It also opens the GET
stream for server-initiated messages, resumes a broken stream with
``Last-Event-ID``, and DELETEs the session.

httpx exceptions are translated here, once, into :mod:`agentdock.proxy.errors`
— with the distinction the retry table needs between "never arrived" and
"may have arrived".
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import httpx

from agentdock.proxy.errors import (
    ResponseTimeout,
    SessionExpired,
    StreamDropped,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatus,
    UpstreamUnreachable,
)
from agentdock.proxy.messages import Kind, Message, RequestId, is_valid_message, kind_of, modern_version_of
from agentdock.proxy.paramheaders import ToolHeaderMaps
from agentdock.proxy.sse import SSEDecoder, SSEEvent, SSEEventTooLarge

__all__ = ["OnMessage", "Upstream", "encode_header_value", "same_id"]

log = logging.getLogger(__name__)

OnMessage = Callable[[Message], Awaitable[None]]
"""Receives each server request, notification or unrelated response found on a stream."""

Spawn = Callable[[Callable[[], Coroutine[Any, Any, None]]], object]
"""Starts a coroutine function in the background (the bridge passes its task group's ``start_soon``)."""

FINISH_S = 0.25
"""How long the rest of an answered SSE stream is read (servers close it right after the response)."""

_NAME_PARAM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_HEADER_SAFE = re.compile(r"^[\x20-\x7E]*$")
_B64_SENTINEL = re.compile(r"^=\?base64\?.*\?=$")
_ERROR_BODY_LIMIT = 1 << 20
_STATUS_NOT_ANSWERED = frozenset({401, 403, 408, 429, 502, 503, 504})
"""Statuses that mean the request was not handled: a JSON-RPC error in their body is not the answer."""


def encode_header_value(value: str) -> str:
    """An HTTP-safe rendering of ``value``: verbatim if printable ASCII, else the ``=?base64?…?=`` form."""
    if _HEADER_SAFE.fullmatch(value) and value == value.strip() and not _B64_SENTINEL.fullmatch(value):
        return value
    return f"=?base64?{base64.b64encode(value.encode('utf-8')).decode('ascii')}?="


def same_id(a: Any, b: Any) -> bool:
    """JSON-RPC ids match by type and value ("1" is not 1)."""
    return type(a) is type(b) and a == b


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # only for an HTTP-date Retry-After: kept off the start-up path (~14 ms cold)

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class Upstream:
    """One MCP endpoint over Streamable HTTP, with the session state the transport carries.

    ``timeout_s`` bounds connecting and waiting for a response to start. Once a
    response has started, a stream that keeps sending (events, progress, even
    keep-alive comments) stays open — bounded only by the caller's overall
    deadline — but one that sends nothing at all for ``idle_timeout_s``
    (default: ``timeout_s``) is a :class:`ResponseTimeout`.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        timeout_s: float,
        headers: Mapping[str, str] | None = None,
        max_message_bytes: int | None = None,
        idle_timeout_s: float | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.url = url
        self.timeout_s = timeout_s
        self._extra = {k.lower(): v for k, v in (headers or {}).items()}
        self._max_bytes = max_message_bytes
        """Cap on one SSE event (or line) and on a JSON response body; None: unbounded (tests only)."""
        self.idle_timeout_s = idle_timeout_s if idle_timeout_s is not None else timeout_s
        """A started response that sends nothing for this long is treated as stalled."""
        self._wall_clock = wall_clock
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        """The version negotiated by ``initialize`` (sent as MCP-Protocol-Version on later requests)."""
        self.modern_version: str | None = None
        """The 2026-07-28-era version the client last used, for notifications that carry no envelope."""
        self.tool_headers = ToolHeaderMaps()
        """``x-mcp-header`` annotations learned from the ``tools/list`` results passing through."""
        self.spawn: Spawn | None = None
        """Where the rest of an answered SSE stream is read (see :meth:`_finish`); None: it is cut off."""

    # ------------------------------------------------------------------ headers

    def headers_for(self, message: Message, *, idempotency_key: str | None = None) -> dict[str, str]:
        """The HTTP headers for POSTing ``message`` in the current session state."""
        headers = {
            **self._extra,
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }
        method = message.get("method")
        modern = modern_version_of(message) if "id" in message and method else None
        if modern is not None:
            self.modern_version = modern
            headers["mcp-protocol-version"] = modern
            headers["mcp-method"] = str(method)
            name_key = _NAME_PARAM.get(str(method))
            params = message.get("params")
            if name_key and isinstance(params, dict) and isinstance(params.get(name_key), str):
                headers["mcp-name"] = encode_header_value(params[name_key])
            if method == "tools/call":
                headers.update(self.tool_headers.headers_for(params))
        elif method != "initialize":
            if self.session_id:
                headers["mcp-session-id"] = self.session_id
            version = self.protocol_version or (self.modern_version if not self.session_id else None)
            if version:
                headers["mcp-protocol-version"] = version
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        return headers

    def _stream_headers(self, last_event_id: str | None) -> dict[str, str]:
        headers = {**self._extra, "accept": "text/event-stream"}
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
        if self.protocol_version:
            headers["mcp-protocol-version"] = self.protocol_version
        if last_event_id is not None:
            headers["last-event-id"] = last_event_id
        return headers

    # ------------------------------------------------------------------ exchanges

    async def post(
        self,
        body: bytes,
        message: Message,
        headers: dict[str, str],
        on_message: OnMessage,
        *,
        later: list[Callable[[], Awaitable[None]]] | None = None,
    ) -> Message | None:
        """POST one message; return the response to it (``None`` for a notification or a reply).

        Raises an :class:`~agentdock.proxy.errors.UpstreamError` subclass when
        the exchange fails; a JSON-RPC error in the body is a *response*, not a
        failure, and is returned. What follows the response on an SSE stream is
        read by :meth:`_finish`: appended to ``later`` when given (the caller
        runs it once the answer is delivered), else in a task of :attr:`spawn`.
        """
        expect_id = message["id"] if kind_of(message) is Kind.REQUEST else None
        request = self.client.build_request("POST", self.url, content=body, headers=headers)
        response = await self._open(request)
        rest: list[_Rest] = []
        try:
            if message.get("method") == "initialize" and response.is_success:
                session_id = response.headers.get("mcp-session-id")
                if session_id:
                    self.session_id = session_id
            return await self._answer(response, headers, expect_id, on_message, rest)
        finally:
            finish = partial(self._finish, response, rest[0], on_message) if rest else None
            if finish is not None and later is not None:
                later.append(finish)
            elif finish is not None and self.spawn is not None:
                self.spawn(finish)
            else:
                await response.aclose()

    async def resume(self, last_event_id: str, expect_id: RequestId, on_message: OnMessage) -> Message:
        """Resume a broken SSE response stream with ``Last-Event-ID``; return the response it carries."""
        request = self.client.build_request("GET", self.url, headers=self._stream_headers(last_event_id))
        response = await self._open(request)
        try:
            self._check_status(response, request.headers)
            if not _is_sse(response):
                await self._raise_status(response)
            answer = await self._read_sse(response, expect_id, on_message)
            assert answer is not None
            return answer
        finally:
            await response.aclose()

    async def listen(self, on_message: OnMessage, last_event_id: str | None = None) -> SSEDecoder:
        """Hold the GET stream open, delivering server-initiated messages, until it ends.

        Returns the decoder so the caller can resume from its ``last_event_id``
        and wait its ``retry_ms``. Raises :class:`UpstreamStatus` (405 means the
        server offers no GET stream), :class:`SessionExpired`, or a connection error.
        """
        request = self.client.build_request("GET", self.url, headers=self._stream_headers(last_event_id))
        response = await self._open(request)
        try:
            self._check_status(response, request.headers)
            if not response.is_success or not _is_sse(response):
                await self._raise_status(response)
            decoder = SSEDecoder(max_event_bytes=self._max_bytes)
            if last_event_id is not None:
                decoder.last_event_id = last_event_id
            try:
                async for chunk in response.aiter_bytes():
                    for event in decoder.feed(chunk):
                        item = self._parse_event_or_skip(event.data) if event.data else None
                        if item is not None:
                            await on_message(item)
            except httpx.TransportError as exc:
                log.debug("GET stream broke: %s", exc)
            except SSEEventTooLarge as exc:
                raise UpstreamProtocolError(f"GET stream: {exc} (--max-message-bytes)") from exc
            return decoder
        finally:
            await response.aclose()

    async def delete_session(self) -> int | None:
        """DELETE the session (best effort, bounded by ``timeout_s``); return the status, if any."""
        if not self.session_id:
            return None
        headers = {**self._extra}
        headers["mcp-session-id"] = self.session_id
        if self.protocol_version:
            headers["mcp-protocol-version"] = self.protocol_version
        try:
            with anyio.fail_after(self.timeout_s):
                response = await self.client.delete(self.url, headers=headers)
        except (httpx.HTTPError, TimeoutError) as exc:
            log.info("DELETE of session failed: %s", exc)
            return None
        log.info("DELETE session -> HTTP %d", response.status_code)
        self.session_id = None
        return response.status_code

    # ------------------------------------------------------------------ internals

    async def _open(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and wait (bounded by ``timeout_s``) for the response headers."""
        what = f"{request.method} {request.url}"
        try:
            with anyio.fail_after(self.timeout_s):
                return await self.client.send(request, stream=True)
        except httpx.ConnectTimeout as exc:
            raise UpstreamUnreachable(f"connect timed out: {what}", timed_out=True) from exc
        except httpx.PoolTimeout as exc:
            raise UpstreamUnreachable(
                f"no free connection within the timeout: {what}", timed_out=True
            ) from exc
        except httpx.ConnectError as exc:
            raise UpstreamUnreachable(f"cannot connect: {exc or type(exc).__name__} ({what})") from exc
        except TimeoutError as exc:
            raise ResponseTimeout(f"no response within {self.timeout_s:g} s ({what})") from exc
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise StreamDropped(f"connection lost before the response: {exc or type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamProtocolError(f"HTTP request failed: {exc or type(exc).__name__}") from exc

    def _check_status(self, response: httpx.Response, sent: Mapping[str, str]) -> None:
        if response.status_code == 404 and "mcp-session-id" in sent:
            raise SessionExpired(sent["mcp-session-id"])

    async def _raise_status(self, response: httpx.Response) -> None:
        body = await _read_limited(response)
        excerpt = body[:300].decode("utf-8", "replace").strip()
        if response.is_success:
            ctype = response.headers.get("content-type", "")
            raise UpstreamProtocolError(f"unexpected content type {ctype!r} (HTTP {response.status_code})")
        raise UpstreamStatus(
            response.status_code,
            response.reason_phrase,
            retry_after_s=_retry_after(response.headers.get("retry-after"), self._wall_clock()),
            body_excerpt=excerpt,
        )

    async def _answer(
        self,
        response: httpx.Response,
        sent: Mapping[str, str],
        expect_id: RequestId | None,
        on_message: OnMessage,
        rest: list[_Rest] | None = None,
    ) -> Message | None:
        status = response.status_code
        if status >= 400 or status < 200:
            self._check_status(response, sent)
            if expect_id is not None and status not in _STATUS_NOT_ANSWERED and _is_json(response):
                body = await _read_limited(response)
                error = _jsonrpc_error(body)
                if error is not None:
                    error["id"] = expect_id
                    return error
                await self._raise_status_from(response, body)
            await self._raise_status(response)
        if expect_id is None:
            await _discard(response)
            return None
        if status in {202, 204}:
            raise UpstreamProtocolError(f"server answered a request with HTTP {status} and no response")
        if _is_json(response):
            return await self._read_json(response, expect_id, on_message)
        if _is_sse(response):
            return await self._read_sse(response, expect_id, on_message, rest)
        await self._raise_status(response)
        return None  # pragma: no cover - _raise_status always raises

    async def _raise_status_from(self, response: httpx.Response, body: bytes) -> None:
        raise UpstreamStatus(
            response.status_code,
            response.reason_phrase,
            retry_after_s=_retry_after(response.headers.get("retry-after"), self._wall_clock()),
            body_excerpt=body[:300].decode("utf-8", "replace").strip(),
        )

    async def _read_json(
        self, response: httpx.Response, expect_id: RequestId, on_message: OnMessage
    ) -> Message:
        parts: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.idle_timeout_s) as idle:
            try:
                async for chunk in response.aiter_bytes():
                    idle.deadline = _loop_time() + self.idle_timeout_s
                    size += len(chunk)
                    if self._max_bytes is not None and size > self._max_bytes:
                        raise UpstreamProtocolError(
                            f"JSON response larger than {self._max_bytes} bytes: over the proxy's --max-message-bytes"
                        )
                    parts.append(chunk)
            except httpx.HTTPError as exc:
                raise StreamDropped(f"connection lost while reading the JSON response: {exc}") from exc
        if idle.cancelled_caught:
            raise self._went_silent("JSON response")
        body = b"".join(parts)
        del parts
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise UpstreamProtocolError(f"response body is not JSON: {exc}") from exc
        answer: Message | None = None
        for item in value if isinstance(value, list) else [value]:
            if not is_valid_message(item):
                raise UpstreamProtocolError("response body is not a JSON-RPC message")
            if answer is None and kind_of(item) is Kind.RESPONSE and same_id(item["id"], expect_id):
                answer = item
            else:
                await on_message(item)
        if answer is None:
            raise UpstreamProtocolError("JSON response body did not answer the request")
        return answer

    async def _read_sse(
        self,
        response: httpx.Response,
        expect_id: RequestId,
        on_message: OnMessage,
        rest: list[_Rest] | None = None,
    ) -> Message:
        """The response to ``expect_id`` from an SSE stream; other messages on it go to ``on_message``.

        With ``rest`` given, what follows the response (normally only the
        stream's end) is left unread and described there for :meth:`_finish`.
        """
        decoder = SSEDecoder(max_event_bytes=self._max_bytes)
        chunks = response.aiter_bytes()
        events = 0
        with anyio.move_on_after(self.idle_timeout_s) as idle:
            try:
                async for chunk in chunks:
                    idle.deadline = _loop_time() + self.idle_timeout_s
                    batch = decoder.feed(chunk)
                    for index, event in enumerate(batch):
                        if not event.data:
                            continue  # a priming event: it only carries an id for resumption
                        events += 1
                        item = self._parse_event_or_skip(event.data)
                        if item is None:
                            continue
                        if kind_of(item) is Kind.RESPONSE and same_id(item["id"], expect_id):
                            if rest is not None:
                                rest.append(_Rest(chunks, decoder, batch[index + 1 :]))
                            return item
                        await on_message(item)
            except SSEEventTooLarge as exc:
                raise UpstreamProtocolError(f"{exc}: over the proxy's --max-message-bytes") from exc
            except httpx.HTTPError as exc:
                raise StreamDropped(
                    f"SSE stream broke after {events} event(s): {exc or type(exc).__name__}",
                    last_event_id=decoder.last_event_id,
                    retry_ms=decoder.retry_ms,
                ) from exc
        if idle.cancelled_caught:
            raise self._went_silent("SSE stream", decoder)
        raise StreamDropped(
            f"SSE stream ended after {events} event(s) without the response",
            last_event_id=decoder.last_event_id,
            retry_ms=decoder.retry_ms,
        )

    async def _finish(self, response: httpx.Response, rest: _Rest, on_message: OnMessage) -> None:
        """Read the rest of an answered SSE stream (after the answer went out), then close it.

        The spec has the server close the stream once the response is sent; a
        stream read to its end leaves the connection in the keep-alive pool,
        where closing it early (as soon as the answer is in) would cost a new
        TCP connection per request. Messages that still come are delivered; a
        stream that stays open past :data:`FINISH_S` is cut off, as before.
        """
        try:
            with anyio.move_on_after(FINISH_S):
                for event in rest.events:
                    await self._deliver_event(event, on_message)
                async for chunk in rest.chunks:
                    for event in rest.decoder.feed(chunk):
                        await self._deliver_event(event, on_message)
        except (httpx.HTTPError, UpstreamError, SSEEventTooLarge) as exc:
            log.debug("the rest of an answered stream: %s", exc)
        except Exception:  # a background tidy-up must never take the bridge down with it
            log.exception("bug while reading the rest of an answered stream")
        finally:
            with anyio.CancelScope(shield=True):
                close_chunks = getattr(rest.chunks, "aclose", None)  # httpx's iterator is a generator
                if close_chunks is not None:
                    await close_chunks()
                await response.aclose()

    async def _deliver_event(self, event: SSEEvent, on_message: OnMessage) -> None:
        item = self._parse_event_or_skip(event.data) if event.data else None
        if item is not None:
            await on_message(item)

    def _went_silent(self, what: str, decoder: SSEDecoder | None = None) -> ResponseTimeout:
        """A started body silent (not even a keep-alive) for ``idle_timeout_s``: a timeout.

        The request may have reached the server, so this is a
        :class:`ResponseTimeout`: retried only where repeating is harmless.
        """
        resume_at = f" (last event id {decoder.last_event_id})" if decoder and decoder.last_event_id else ""
        return ResponseTimeout(f"{what} sent nothing for {self.idle_timeout_s:g} s{resume_at}")

    def _parse_event_or_skip(self, data: str) -> Message | None:
        """One event's message; an undecodable event is logged and skipped, so a valid response still counts."""
        try:
            return self._parse_event(data)
        except UpstreamProtocolError as exc:
            log.warning("skipped an SSE event: %s (%r)", exc, data[:120])
            return None

    @staticmethod
    def _parse_event(data: str) -> Message:
        try:
            item = json.loads(data)
        except ValueError as exc:
            raise UpstreamProtocolError(f"SSE event is not JSON: {exc}") from exc
        if not is_valid_message(item):
            raise UpstreamProtocolError("SSE event is not a JSON-RPC message")
        result: Message = item
        return result


@dataclass(frozen=True, slots=True)
class _Rest:
    """What is left of an SSE stream after its response: the chunk source, its decoder, events already decoded."""

    chunks: AsyncIterator[bytes]
    decoder: SSEDecoder
    events: list[SSEEvent]


def _loop_time() -> float:
    """The event loop's clock (asyncio's is ``time.monotonic``), read without anyio's per-call lookups.

    Each chunk of a body moves its idle deadline: one clock read, where a cancel
    scope per chunk cost several times as much.
    """
    return time.monotonic()


def _media_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.partition(";")[0].strip().lower()


def _is_json(response: httpx.Response) -> bool:
    return _media_type(response) == "application/json"


def _is_sse(response: httpx.Response) -> bool:
    return _media_type(response) == "text/event-stream"


async def _discard(response: httpx.Response) -> None:
    """Read a body nobody needs without keeping it (its size cannot grow memory)."""
    async for _ in response.aiter_bytes():
        pass


async def _read_limited(response: httpx.Response) -> bytes:
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError as exc:
        log.debug("error body cut short: %s", exc)
    return bytes(body)


def _jsonrpc_error(body: bytes) -> Message | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("error"), dict) and "code" in value["error"]:
        return {"jsonrpc": "2.0", "id": value.get("id"), "error": value["error"]}
    return None
