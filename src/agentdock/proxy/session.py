"""Session upkeep: re-establishing a session the server forgot, and the GET stream.

When a request that carried ``Mcp-Session-Id`` is answered 404, the server
has restarted or expired the session. :meth:`SessionKeeper.recover` replays the
client's cached ``initialize`` (under a proxy-owned id) and
``notifications/initialized``, adopts the new session id, and lets the caller
replay its request — concurrent callers share one re-initialisation.
:meth:`SessionKeeper.ensure_listening` keeps the GET stream for
server-initiated messages open (405: the server offers none), reconnecting
with ``Last-Event-ID`` after the server's ``retry`` interval.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.abc

from agentdock.proxy.errors import SessionExpired, UpstreamError, UpstreamStatus
from agentdock.proxy.framing import encode_message
from agentdock.proxy.messages import Message, MethodClass
from agentdock.proxy.retry import AttemptLog, Backoff, Probe, call_with_retries
from agentdock.proxy.transport import OnMessage, Upstream

__all__ = ["Pacing", "SessionKeeper"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Pacing:
    """How retries are paced: the limits from the configuration and the injected clock, randomness and sleep.

    ``probe`` asks the server something harmless (a ``ping``) to tell whether it
    serves again before a request that may have reached it is re-sent.
    """

    retries: int
    max_time_s: float
    window_s: float
    clock: Callable[[], float]
    rng: random.Random
    sleep: Callable[[float], Awaitable[None]]
    backoff: Backoff
    probe: Probe | None = None

    async def retry(
        self,
        attempt: Callable[[], Awaitable[T]],
        method: MethodClass,
        record: AttemptLog,
        *,
        deadline: float | None = None,
        started: float | None = None,
    ) -> T:
        return await call_with_retries(
            attempt,
            method=method,
            retries=self.retries,
            deadline=deadline if deadline is not None else self.clock() + self.max_time_s,
            clock=self.clock,
            rng=self.rng,
            sleep=self.sleep,
            backoff=self.backoff,
            record=record,
            window_s=self.window_s,
            probe=self.probe,
            started=started,
        )


class SessionKeeper:
    """The session state that outlives single requests."""

    def __init__(
        self, upstream: Upstream, pacing: Pacing, on_message: OnMessage, *, get_stream: bool
    ) -> None:
        self.upstream = upstream
        self._pacing = pacing
        self._on_message = on_message
        self._get_stream = get_stream
        self.init_request: Message | None = None
        self._lock = anyio.Lock()
        self._count = 0
        self._scope: anyio.CancelScope | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self.closing = False

    def attach(self, tg: anyio.abc.TaskGroup) -> None:
        """Where the GET stream task runs."""
        self._tg = tg

    def remember_initialize(self, message: Message) -> None:
        """The client's initialize starts a new session: cache it for replays, forget the old session."""
        self.init_request = copy.deepcopy(message)
        self.upstream.session_id = None
        self.upstream.protocol_version = None

    def stop(self) -> None:
        self.closing = True
        if self._scope is not None:
            self._scope.cancel()

    async def settled(self) -> None:
        """Return once no re-initialisation is under way.

        While one runs, the upstream has no session id; a request sent then would
        reach the server without one (a stateful server answers 400, which is not
        retried). Callers await this right before building a request's headers.
        """
        if self._lock.locked():
            async with self._lock:
                pass

    async def recover(self, stale_session: str) -> None:
        """Re-initialise after the server forgot ``stale_session``; concurrent callers share one re-init."""
        async with self._lock:
            if self.upstream.session_id != stale_session:
                return  # someone else already recovered
            init = self.init_request
            if init is None:
                raise SessionExpired(stale_session)
            self._count += 1
            replay = {**init, "id": f"mcp-proxy-reinit-{self._count}"}
            self.upstream.session_id = None
            old_version = self.upstream.protocol_version
            self.upstream.protocol_version = None
            record = AttemptLog()

            async def attempt() -> Message:
                answer = await self.upstream.post(
                    encode_message(replay), replay, self.upstream.headers_for(replay), self._on_message
                )
                assert answer is not None
                return answer

            answer = await self._pacing.retry(attempt, MethodClass.SAFE, record)
            result = answer.get("result")
            if not isinstance(result, dict):
                raise SessionExpired(stale_session, details={"reinitialize": answer.get("error")})
            version = result.get("protocolVersion")
            self.upstream.protocol_version = version if isinstance(version, str) else old_version
            if old_version and version != old_version:
                log.warning("server negotiated %s on re-initialise (was %s)", version, old_version)
            initialized: Message = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await self.upstream.post(
                encode_message(initialized),
                initialized,
                self.upstream.headers_for(initialized),
                self._on_message,
            )
            log.warning(
                "server forgot session %s…; re-initialised as %s in %d attempt(s)",
                stale_session[:12],
                self.upstream.session_id or "(stateless)",
                record.attempts,
            )
        self.ensure_listening()

    def ensure_listening(self) -> None:
        if (
            not self._get_stream
            or self.closing
            or self.upstream.session_id is None
            or self._scope is not None
            or self._tg is None
        ):
            return
        self._scope = anyio.CancelScope()
        self._tg.start_soon(self._listen, self._scope)

    async def _listen(self, scope: anyio.CancelScope) -> None:
        """Keep the GET stream open for server-initiated requests and notifications."""
        failures = 0
        last_event_id: str | None = None
        session = self.upstream.session_id
        with scope:
            while not self.closing:
                if self.upstream.session_id is None:
                    break
                if self.upstream.session_id != session:
                    session, last_event_id = self.upstream.session_id, None
                retry_ms: int | None = None
                try:
                    decoder = await self.upstream.listen(self._on_message, last_event_id)
                    last_event_id, retry_ms, failures = decoder.last_event_id, decoder.retry_ms, 0
                except UpstreamStatus as exc:
                    if exc.status == 405:
                        log.info(
                            "server offers no GET stream (HTTP 405); server messages arrive on POST streams"
                        )
                        break
                    failures += 1
                    log.info("GET stream refused: %s", exc)
                    if 400 <= exc.status < 500 and exc.status not in (408, 409, 429) and failures >= 3:
                        log.warning("giving up on the GET stream after %d refusals (%s)", failures, exc)
                        break
                except SessionExpired as exc:
                    try:
                        await self.recover(exc.session_id)
                    except UpstreamError as again:
                        failures += 1
                        log.info("GET stream: re-initialise failed: %s", again)
                    continue
                except UpstreamError as exc:
                    failures += 1
                    log.info("GET stream failed: %s", exc)
                delay = (
                    retry_ms / 1000
                    if retry_ms is not None
                    else self._pacing.backoff.delay(failures + 1, self._pacing.rng)
                )
                await self._pacing.sleep(delay)
        if self._scope is scope:
            self._scope = None
