"""The bridge: stdin messages in, HTTP exchanges out, one answer per request.

It connects the parts — :mod:`framing` (stdio lines), :mod:`transport`
(Streamable HTTP), :mod:`retry` (when to try again) — and owns the state that
spans requests:

* the table of client requests in flight (each in its own task, so a slow
  ``tools/call`` never blocks a ``ping``), which guarantees exactly one answer
  per id: the response, or a JSON-RPC error naming what failed;
* the retry budget (:mod:`~agentdock.proxy.retry`): an unavailable server is
  waited for within ``--retry-window``; a request that may have reached it is
  re-sent at most ``--retries`` times, each time only after the server has
  answered a ``ping`` probe (:meth:`Bridge._probe`);
* the session (:mod:`~agentdock.proxy.session`): re-established when the
  server forgets it (HTTP 404), after which the failed request is replayed,
  and the GET stream for server-initiated messages;
* shutdown: on stdin EOF or SIGTERM, in-flight requests get a bounded grace
  period, stragglers are answered with an error, the session is DELETEd.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import anyio.abc

from agentdock.proxy.config import ProxyConfig
from agentdock.proxy.errors import (
    AUTH_REJECTED_CODE,
    DEADLINE_EXCEEDED_CODE,
    INTERNAL_ERROR_CODE,
    INVALID_REQUEST_CODE,
    OUTCOME_UNKNOWN_CODE,
    PROXY_SHUTDOWN_CODE,
    SESSION_LOST_CODE,
    UPSTREAM_HTTP_ERROR_CODE,
    UPSTREAM_PROTOCOL_ERROR_CODE,
    UPSTREAM_TIMEOUT_CODE,
    UPSTREAM_UNREACHABLE_CODE,
    ResponseTimeout,
    SessionExpired,
    SinkClosed,
    StreamDropped,
    UpstreamError,
    UpstreamStatus,
    UpstreamUnreachable,
)
from agentdock.proxy.framing import Line, decode_line, encode_message
from agentdock.proxy.messages import (
    Kind,
    Message,
    MethodClass,
    RequestId,
    error_response,
    is_valid_message,
    kind_of,
    method_class,
    modern_version_of,
)
from agentdock.proxy.retry import AttemptLog, Backoff, Decision, decide, failure_of
from agentdock.proxy.session import Pacing, SessionKeeper
from agentdock.proxy.transport import Upstream

__all__ = ["Bridge", "Sink"]

log = logging.getLogger(__name__)

_MAX_RECOVERIES = 2
_MAX_RESUMES = 5


Reply = Callable[[Message | None], Coroutine[Any, Any, None]]
"""Delivers one answer: to stdout, or into a batch's collected answers (``None``: none is owed)."""


class Sink(Protocol):
    """Where messages for the client go (stdout in production)."""

    broken: anyio.Event

    async def send(self, message: Any) -> None: ...

    async def drain(self, timeout_s: float) -> bool: ...


@dataclass(eq=False)
class _Pending:
    id: RequestId
    method: str
    started: float
    scope: anyio.CancelScope
    reply: Reply
    answered: bool = False
    client_cancelled: bool = False
    shutdown: bool = False
    init_done: anyio.Event | None = None
    after_reply: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Work left for after the answer is sent: reading the rest of an answered SSE stream."""
    finished: bool = False
    _done: anyio.Event | None = None
    """Created only if someone waits (shutdown): most requests end with nobody waiting."""

    def mark_done(self) -> None:
        self.finished = True
        if self._done is not None:
            self._done.set()

    async def wait_done(self) -> None:
        if not self.finished:
            if self._done is None:
                self._done = anyio.Event()
            await self._done.wait()


#: Requests that stay open until cancelled (a server-to-client message stream), not awaited at shutdown.
STREAMING_METHODS = frozenset({"subscriptions/listen"})


def _key(request_id: RequestId) -> tuple[type, RequestId]:
    return (type(request_id), request_id)


class Bridge:
    """Runs one client connection: ``await Bridge(...).run(lines)`` returns the exit code."""

    def __init__(
        self,
        config: ProxyConfig,
        upstream: Upstream,
        sink: Sink,
        *,
        clock: Callable[[], float] = time.monotonic,  # asyncio's loop clock, without anyio's lookups
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        new_key: Callable[[], str] = lambda: os.urandom(16).hex(),  # 128 random bits (uuid: +2 ms of start)
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen
    ) -> None:
        self.config = config
        self.upstream = upstream
        self.sink = sink
        self._clock = clock
        self._sleep = sleep
        self._new_key = new_key
        self._probes = 0
        self._pacing = Pacing(
            retries=config.retries,
            max_time_s=config.max_time_s,
            window_s=config.retry_window_s,
            clock=clock,
            rng=rng or random.Random(),
            sleep=sleep,
            backoff=backoff,
            probe=self._probe,
        )
        self._session = SessionKeeper(
            upstream, self._pacing, self._on_server_message, get_stream=config.get_stream
        )
        self._pending: dict[tuple[type, RequestId], _Pending] = {}
        self._notify_send, self._notify_receive = anyio.create_memory_object_stream[tuple[Message, bytes]](
            1000
        )
        self._tg: anyio.abc.TaskGroup | None = None
        self._reader_scope = anyio.CancelScope()
        self._closing = False
        self._init_done: anyio.Event | None = None
        """Set when the client's initialize completes; later session requests wait for it (pipelining)."""

    # ------------------------------------------------------------------ lifecycle

    async def run(self, lines: AsyncIterator[Line]) -> int:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._session.attach(tg)
                # An answered SSE stream is read to its end in the background (connection reuse).
                self.upstream.spawn = tg.start_soon
                tg.start_soon(self._watch_sink)
                tg.start_soon(self._notification_pump)
                with self._reader_scope:
                    async for line in lines:
                        await self._on_line(line)
                log.info("stdin closed" if not self.sink.broken.is_set() else "stdout closed; stopping")
                await self._shutdown()
                tg.cancel_scope.cancel()
        finally:
            self.upstream.spawn = None
        return 0

    def request_stop(self) -> None:
        """Begin a graceful shutdown (SIGTERM): stop reading, finish in-flight work, DELETE the session."""
        self._reader_scope.cancel()

    async def _watch_sink(self) -> None:
        await self.sink.broken.wait()
        for pending in list(self._pending.values()):
            pending.shutdown = True
            pending.scope.cancel()
        self._reader_scope.cancel()

    async def _shutdown(self) -> None:
        self._closing = True
        self._session.closing = True  # no new GET stream; the open one serves the grace period
        # A listen stream (2026-07-28 ``subscriptions/listen``) never ends by itself: waiting for it
        # would hold every exit for the whole grace period (a client that escalates to SIGKILL, as
        # Claude Code does within ~0.5 s, would wait that long at each start-up health check).
        finite = [p for p in self._pending.values() if p.method not in STREAMING_METHODS]
        if finite and not self.sink.broken.is_set():
            log.info(
                "waiting up to %.1f s for %d request(s) in flight",
                self.config.shutdown_grace_s,
                len(finite),
            )
            with anyio.move_on_after(self.config.shutdown_grace_s):
                for pending in finite:
                    await pending.wait_done()
        for pending in list(self._pending.values()):
            pending.shutdown = True
            pending.scope.cancel()
        with anyio.move_on_after(2):
            for pending in list(self._pending.values()):
                await pending.wait_done()
        self._notify_send.close()
        self._session.stop()
        with anyio.CancelScope(shield=True):
            await self.upstream.delete_session()
            await self.sink.drain(5.0)

    # ------------------------------------------------------------------ input

    async def _on_line(self, line: Line) -> None:
        decoded = decode_line(line)
        if decoded is None:
            return
        if decoded.error is not None:
            log.warning("bad input line: %s", decoded.error["error"]["message"])
            await self._deliver(decoded.error)
        elif decoded.batch is not None:
            await self._batch(decoded.batch)
        elif decoded.message is not None:
            await self._dispatch(decoded.message, decoded.raw, self._deliver)

    async def _dispatch(self, message: Message, raw: bytes, reply: Reply) -> None:
        kind = kind_of(message)
        if kind is Kind.REQUEST:
            self._start_request(message, raw, reply)
        elif kind is Kind.NOTIFICATION:
            await self._on_notification(message, raw)
        else:
            assert self._tg is not None
            self._tg.start_soon(self._send_reply, message, raw)

    def _start_request(self, message: Message, raw: bytes, reply: Reply) -> None:
        request_id: RequestId = message["id"]
        key = _key(request_id)
        tg = self._tg
        assert tg is not None
        if key in self._pending:
            error = error_response(
                request_id, INVALID_REQUEST_CODE, f"request id {request_id!r} is already in flight"
            )
            tg.start_soon(reply, error)
            return
        if self._closing:
            error = error_response(request_id, PROXY_SHUTDOWN_CODE, "the proxy is shutting down")
            tg.start_soon(reply, error)
            return
        now = self._clock()
        pending = _Pending(
            id=request_id,
            method=str(message["method"]),
            started=now,
            scope=anyio.CancelScope(deadline=now + self.config.max_time_s),
            reply=reply,
        )
        if pending.method == "initialize":
            # Registered now, before the task runs, so lines read next already see it.
            pending.init_done = self._init_done = anyio.Event()
        self._pending[key] = pending
        tg.start_soon(self._run_request, message, raw, pending)

    async def _batch(self, items: list[Any]) -> None:
        """Each request of a batch runs like any other; their answers go back together, as one array."""
        answers: list[Message] = []
        expected = sum(1 for item in items if not is_valid_message(item) or kind_of(item) is Kind.REQUEST)

        async def collect(message: Message | None) -> None:
            nonlocal expected
            if message is None:
                expected -= 1  # cancelled by the client: no answer owed
            else:
                answers.append(message)
            if expected and len(answers) == expected:
                await self._deliver(list(answers))

        for item in items:
            if not is_valid_message(item):
                await collect(error_response(None, INVALID_REQUEST_CODE, "Invalid Request in batch"))
            else:
                await self._dispatch(item, encode_message(item), collect)

    async def _deliver(self, message: Any) -> None:
        if message is None:
            return
        try:
            await self.sink.send(message)
        except SinkClosed:
            log.debug("dropped a message: stdout is closed")

    # ------------------------------------------------------------------ requests

    async def _run_request(self, message: Message, raw: bytes, pending: _Pending) -> None:
        try:
            await self._answer_request(message, raw, pending)
        finally:
            for work in pending.after_reply:  # in this task, once the answer is out: no task of its own
                await work()

    async def _answer_request(self, message: Message, raw: bytes, pending: _Pending) -> None:
        record = AttemptLog()
        answer: Message | None = None
        try:
            with pending.scope:
                answer = await self._exchange(message, raw, pending, record)
            if answer is None and not (pending.client_cancelled or pending.answered):
                if pending.shutdown:
                    answer = self._error(
                        pending, PROXY_SHUTDOWN_CODE, "the proxy shut down before the response", record
                    )
                else:
                    answer = self._error(
                        pending,
                        DEADLINE_EXCEEDED_CODE,
                        f"no response within --max-time {self.config.max_time_s:g} s",
                        record,
                    )
        except UpstreamError as exc:
            answer = self._describe(exc, pending, record)
        except Exception as exc:
            log.exception("bug while handling %s id=%r", pending.method, pending.id)
            answer = self._error(
                pending, INTERNAL_ERROR_CODE, f"proxy error: {type(exc).__name__}: {exc}", record
            )
        finally:
            self._pending.pop(_key(pending.id), None)
            pending.mark_done()
        if pending.answered:
            return
        if answer is None:
            log.info("%s id=%r cancelled by the client", pending.method, pending.id)
            await pending.reply(None)
            return
        pending.answered = True
        # One line per request that failed or needed more than one attempt; a clean first-attempt
        # success is a debug line (at thousands of calls a minute, info would be mostly noise).
        failed = "error" in answer
        level = logging.INFO if failed or record.attempts > 1 else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s id=%r -> %s in %.1f ms (%d attempt(s))",
                pending.method,
                pending.id,
                "error {}".format(answer["error"]["code"]) if failed else "ok",
                (self._clock() - pending.started) * 1000,
                max(record.attempts, 1),
            )
        await pending.reply(answer)

    async def _exchange(self, message: Message, raw: bytes, pending: _Pending, record: AttemptLog) -> Message:
        method = pending.method
        keyed = self.config.idempotency_keys and method == "tools/call"
        idempotency_key = self._new_key() if keyed else None
        init_done = pending.init_done
        if init_done is not None:
            self._session.remember_initialize(message)
        else:
            await self._await_initialize(message)
        try:
            return await self._exchange_inner(
                message, raw, pending, record, keyed=keyed, idempotency_key=idempotency_key
            )
        finally:
            if init_done is not None:
                init_done.set()

    async def _await_initialize(self, message: Message) -> None:
        """A session request pipelined behind an unfinished initialize waits for its session id."""
        if self._init_done is not None and modern_version_of(message) is None:
            await self._init_done.wait()

    async def _exchange_inner(
        self,
        message: Message,
        raw: bytes,
        pending: _Pending,
        record: AttemptLog,
        *,
        keyed: bool,
        idempotency_key: str | None,
    ) -> Message:
        method = pending.method
        recoveries = 0

        async def attempt() -> Message:
            nonlocal recoveries
            while True:
                await self._session.settled()
                headers = self.upstream.headers_for(message, idempotency_key=idempotency_key)
                try:
                    answer = await self.upstream.post(
                        raw, message, headers, self._on_server_message, later=pending.after_reply
                    )
                except SessionExpired as exc:
                    if (
                        recoveries >= _MAX_RECOVERIES
                        or self._session.init_request is None
                        or method == "initialize"
                    ):
                        raise
                    recoveries += 1
                    await self._session.recover(exc.session_id)
                    continue
                except StreamDropped as exc:
                    answer = await self._resume(exc, pending.id)
                assert answer is not None
                return answer

        answer = await self._pacing.retry(
            attempt,
            method_class(message, keyed=keyed),
            record,
            deadline=pending.started + self.config.max_time_s,
            started=pending.started,
        )
        if method == "tools/list":
            self.upstream.tool_headers.learn(answer.get("result"))
        if method == "initialize" and isinstance(answer.get("result"), dict):
            version = answer["result"].get("protocolVersion")
            self.upstream.protocol_version = version if isinstance(version, str) else None
            log.info(
                "initialized: protocol %s, session %s",
                self.upstream.protocol_version,
                self.upstream.session_id or "(stateless)",
            )
        return answer

    async def _resume(self, dropped: StreamDropped, request_id: RequestId) -> Message:
        """Resume a broken SSE response stream with Last-Event-ID, when the server gave event ids."""
        exc = dropped
        for _ in range(_MAX_RESUMES):
            if exc.last_event_id is None:
                raise exc
            delay = (exc.retry_ms or 0) / 1000
            log.info(
                "stream for id=%r broke; resuming after event %s in %.2f s",
                request_id,
                exc.last_event_id,
                delay,
            )
            if delay:
                await self._sleep(delay)
            try:
                return await self.upstream.resume(exc.last_event_id, request_id, self._on_server_message)
            except StreamDropped as again:
                if again.last_event_id is None:
                    again.last_event_id = exc.last_event_id
                exc = again
        raise exc

    async def _probe(self) -> None:
        """Ask the server for a ``ping``: any HTTP answer shows it serves again (see :mod:`retry`)."""
        self._probes += 1
        ping: Message = {"jsonrpc": "2.0", "id": f"mcp-proxy-probe-{self._probes}", "method": "ping"}
        await self.upstream.post(
            encode_message(ping), ping, self.upstream.headers_for(ping), self._on_server_message
        )

    def _describe(self, exc: UpstreamError, pending: _Pending, record: AttemptLog) -> Message:
        failure = failure_of(exc)
        decision = record.decision or decide(failure, MethodClass.SAFE)
        if decision is Decision.OUTCOME_UNKNOWN:
            code = OUTCOME_UNKNOWN_CODE
            text = (
                f"outcome unknown: {exc}; the server may have run it, and it was not retried "
                "because it may have side effects (no Idempotency-Key)"
            )
        elif isinstance(exc, UpstreamStatus) and exc.status in (401, 403):
            code = AUTH_REJECTED_CODE
            text = f"server refused the credentials: {exc} (check the Authorization header / token)"
        elif isinstance(exc, UpstreamStatus):
            code = UPSTREAM_HTTP_ERROR_CODE
            text = f"server answered {exc}"
        elif isinstance(exc, UpstreamUnreachable):
            code = UPSTREAM_UNREACHABLE_CODE
            text = f"server unreachable: {exc}"
        elif isinstance(exc, ResponseTimeout):
            code = UPSTREAM_TIMEOUT_CODE
            text = str(exc)
        elif isinstance(exc, SessionExpired):
            code = SESSION_LOST_CODE
            text = f"session lost and could not be re-established: {exc}"
        elif isinstance(exc, StreamDropped):
            code = UPSTREAM_UNREACHABLE_CODE
            text = str(exc)
        else:
            code = UPSTREAM_PROTOCOL_ERROR_CODE
            text = f"bad answer from the server: {exc}"
        data: dict[str, Any] = {"failure": failure.value}
        if isinstance(exc, UpstreamStatus):
            data["status"] = exc.status
            if exc.retry_after_s is not None:
                data["retry_after_s"] = exc.retry_after_s
            if exc.body_excerpt:
                data["body"] = exc.body_excerpt
        return self._error(pending, code, text, record, data)

    def _error(
        self,
        pending: _Pending,
        code: int,
        text: str,
        record: AttemptLog,
        data: dict[str, Any] | None = None,
    ) -> Message:
        elapsed = self._clock() - pending.started
        attempts = max(record.attempts, 1)
        reason = f"; {record.gave_up_reason}" if record.gave_up_reason else ""
        message = f"{pending.method} failed: {text} (after {attempts} attempt(s) in {elapsed:.2f} s{reason})"
        details = {
            **(data or {}),
            "method": pending.method,
            "url": self.upstream.url,
            "attempts": attempts,
            "elapsed_ms": round(elapsed * 1000, 1),
            "retries": record.counted_retries,
            "waits": record.waits,
            "probes": record.probes,
            "failures": record.failures[-5:],
        }
        log.warning("%s id=%r: %s", pending.method, pending.id, message)
        return error_response(pending.id, code, message, details)

    # ------------------------------------------------------------------ server -> client

    async def _on_server_message(self, message: Message) -> None:
        kind = kind_of(message)
        if kind is Kind.RESPONSE:
            pending = self._pending.get(_key(message["id"])) if message.get("id") is not None else None
            if pending is None or pending.answered:
                log.warning("dropped a response for unknown or answered id %r", message.get("id"))
                return
            pending.answered = True
            pending.scope.cancel()
            await pending.reply(message)
            return
        await self._deliver(message)

    async def _send_reply(self, message: Message, raw: bytes) -> None:
        """POST the client's answer to a server request (sampling, elicitation, roots, ping)."""
        await self._post_quietly(message, raw, MethodClass.REPLY)

    # ------------------------------------------------------------------ notifications

    async def _on_notification(self, message: Message, raw: bytes) -> None:
        method = message.get("method")
        if method == "notifications/cancelled":
            params = message.get("params")
            target = params.get("requestId") if isinstance(params, dict) else None
            pending = self._pending.get(_key(target)) if isinstance(target, str | int) else None
            if pending is not None:
                pending.client_cancelled = True
                pending.scope.cancel()
            if self.upstream.session_id is None and self.upstream.modern_version is not None:
                return  # 2026-07-28: closing the response stream is the cancellation
        if method == "notifications/initialized":
            # Inline, so no request overtakes it; then the server may talk on the GET stream.
            await self._await_initialize(message)
            await self._post_quietly(message, raw, MethodClass.NOTIFICATION)
            self._session.ensure_listening()
            return
        try:
            self._notify_send.send_nowait((message, raw))
        except (anyio.WouldBlock, anyio.ClosedResourceError):
            log.warning("dropped notification %s: too many queued", method)

    async def _notification_pump(self) -> None:
        async with self._notify_receive:
            async for message, raw in self._notify_receive:
                await self._post_quietly(message, raw, MethodClass.NOTIFICATION)

    async def _post_quietly(self, message: Message, raw: bytes, klass: MethodClass) -> None:
        """Send a notification or reply; failures are logged, never answered."""
        record = AttemptLog()
        name = message.get("method") or f"reply to id={message.get('id')!r}"

        async def attempt() -> None:
            headers = self.upstream.headers_for(message)
            try:
                await self.upstream.post(raw, message, headers, self._on_server_message)
            except SessionExpired as exc:
                await self._session.recover(exc.session_id)
                raise

        with anyio.move_on_after(self.config.max_time_s):
            try:
                await self._pacing.retry(attempt, klass, record)
            except UpstreamError as exc:
                log.warning("%s not delivered after %d attempt(s): %s", name, record.attempts, exc)
