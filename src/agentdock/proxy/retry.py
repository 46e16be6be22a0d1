"""When the proxy may send a request again, how long it keeps trying, and how long it waits first.

Two tables, so the policy can be read, reviewed and tested cell by cell.

:data:`EVIDENCE` says what a failure tells us about the request and the server:

* ``unavailable`` — the server plainly did not take the request and is down,
  restarting or overloaded: connection refused, connect timeout, 503, 429.
* ``not_taken`` — the server did not take the request but is up: 408.
* ``may_have_run`` — the request may have reached the server: no response
  within ``--timeout``, the connection or stream dropped after the request
  was sent, a gateway's 502/504.
* ``answered`` — the server answered and the answer will not change: other
  4xx, 500, 501, 401/403, a malformed body.

:data:`RETRY_TABLE` maps failure × method class
(:class:`~agentdock.proxy.messages.MethodClass`) to a :class:`Decision`:

* ``wait`` — ride out the unavailability: retry with backoff (see *Cadence*
  below; ``Retry-After`` honoured up to the window's end) for as long as
  ``--retry-window`` allows, counted from the request's first failure, and at
  least ``--retries`` times. Safe whatever the method, because the request
  never arrived.
* ``retry`` — re-send, at most ``--retries`` times. For a failure that *may
  have run*, only methods that are harmless to repeat get this (no side
  effects, ``tools/call`` with an ``Idempotency-Key``, replies); and before
  each re-send the proxy first waits, within the window, until the server
  answers a side-effect-free probe (a JSON-RPC ``ping``). A restart therefore
  costs one of the ``--retries`` (the request that was in flight), however
  long it takes within the window and whatever the server's absence looks like
  on the wire (refused, or reset by a TCP proxy in front of it); a request
  that crashes a server which comes straight back is still sent at most
  ``--retries + 1`` times.
* ``outcome_unknown`` — stop: the request may have run and repeating it could
  run it twice (an unkeyed ``tools/call``).
* ``fail`` — stop: the answer will not change, or a notification may have
  been delivered already.

Everything stays within the request's overall deadline (``--max-time``):
no wait, probe or re-send starts past it.

Cadence (:class:`Backoff`): attempt *n* waits a jittered delay in
``[d/2, d]``, ``d = min(cap, 50 ms * 2**(n-1))`` — 25-50, 50-100, 100-200,
200-400 ms, ... While the request is younger than the client's patience
(``patience_s``, 5 s: Claude Code abandons an MCP tools fetch after 5 s) the
cap is 0.5 s; after that it is 2 s. Why this shape, and not one tuned to a
fault profile:

* A refused connection or a 503 costs the server almost nothing, and the
  common real cases end fast: a 503 burst from a gateway or an overloaded
  server clears within a few hundred ms, a process restart (uvicorn, a
  supervisor) in one to three seconds. Doubling from 50 ms puts eight
  attempts into the first 2.5 s, so a short outage costs about the outage plus
  a quarter of a second, not a doubled tail.
* While the client still waits, the gap between tries never exceeds 0.5 s:
  the answer leaves at most ~0.5 s after the server is back, and a restart of
  up to ~4 s still answers inside a 5 s client deadline. That is at most two
  requests a second per waiting request — a load a recovering server
  tolerates, and jitter keeps many proxies from arriving in step.
* Once the client's patience is spent, the outage is a long one: the cap
  grows to 2 s, so a proxy keeps trying for ``--retry-window`` without
  hammering a server that is down for good.
* A ``Retry-After`` from the server wins over all of this: the server knows
  best when it will be back.
``--retries 0`` means no retries and no waiting at all; ``--retry-window 0``
means no waiting beyond ``--retries`` (every retry is counted, and none is
preceded by probes).

:func:`call_with_retries` runs an attempt function under those tables with
tenacity. Clock, random source, sleep and probe are injected so tests run
without waiting. The first attempt runs before tenacity is involved: most
requests succeed at once, and they then cost neither a retry controller nor,
in a fresh proxy, tenacity's import (the first response of every start).
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

import anyio

from agentdock.proxy.errors import UpstreamError, UpstreamStatus
from agentdock.proxy.messages import MethodClass

if TYPE_CHECKING:
    import tenacity

__all__ = [
    "EVIDENCE",
    "RETRY_TABLE",
    "AttemptLog",
    "Backoff",
    "Decision",
    "Evidence",
    "Failure",
    "Probe",
    "call_with_retries",
    "decide",
    "failure_of",
    "shows_unavailable",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

Probe = Callable[[], Awaitable[None]]
"""A side-effect-free request to the server; returns if it answered, raises :class:`UpstreamError` if not."""


class Failure(enum.StrEnum):
    """What went wrong with one HTTP exchange (the rows of the tables)."""

    CONNECT = "connect"
    CONNECT_TIMEOUT = "connect_timeout"
    STATUS_408 = "status_408"
    STATUS_429 = "status_429"
    STATUS_503 = "status_503"
    STATUS_502 = "status_502"
    STATUS_504 = "status_504"
    RESPONSE_TIMEOUT = "response_timeout"
    STREAM_DROPPED = "stream_dropped"
    AUTH = "auth"
    STATUS_4XX = "status_4xx"
    STATUS_5XX = "status_5xx"
    PROTOCOL = "protocol"


class Evidence(enum.StrEnum):
    """What a failure says about the request and the server."""

    UNAVAILABLE = "unavailable"
    """Not taken: the server is down, restarting or overloaded."""
    NOT_TAKEN = "not_taken"
    """Not taken, but the server is up (it said so)."""
    MAY_HAVE_RUN = "may_have_run"
    """The request may have reached the server; whether the server is up is unknown."""
    ANSWERED = "answered"
    """The server is up and answered; asking again gets the same answer."""


class Decision(enum.StrEnum):
    WAIT = "wait"
    """Not taken and the server is unavailable: retry within --retry-window (at least --retries times)."""
    RETRY = "retry"
    """Re-send, counted against --retries (after a probe answers, when it may have run)."""
    FAIL = "fail"
    OUTCOME_UNKNOWN = "outcome_unknown"
    """Stop: the request may have run on the server and repeating it could run it twice."""


_UN, _NT, _MR, _AN = Evidence.UNAVAILABLE, Evidence.NOT_TAKEN, Evidence.MAY_HAVE_RUN, Evidence.ANSWERED
_W, _R, _F, _U = Decision.WAIT, Decision.RETRY, Decision.FAIL, Decision.OUTCOME_UNKNOWN
_COLUMNS = (
    MethodClass.SAFE,
    MethodClass.TOOL_CALL_KEYED,
    MethodClass.UNSAFE,
    MethodClass.NOTIFICATION,
    MethodClass.REPLY,
)
# fmt: off
_ROWS: dict[Failure, tuple[Evidence, tuple[Decision, ...]]] = {
    #                            evidence   safe tool+key unsafe notif reply
    Failure.CONNECT:            (_UN,     (_W,  _W,      _W,    _W,   _W)),
    Failure.CONNECT_TIMEOUT:    (_UN,     (_W,  _W,      _W,    _W,   _W)),
    Failure.STATUS_429:         (_UN,     (_W,  _W,      _W,    _W,   _W)),
    Failure.STATUS_503:         (_UN,     (_W,  _W,      _W,    _W,   _W)),
    Failure.STATUS_408:         (_NT,     (_R,  _R,      _R,    _R,   _R)),
    Failure.STATUS_502:         (_MR,     (_R,  _R,      _U,    _F,   _R)),
    Failure.STATUS_504:         (_MR,     (_R,  _R,      _U,    _F,   _R)),
    Failure.RESPONSE_TIMEOUT:   (_MR,     (_R,  _R,      _U,    _F,   _R)),
    Failure.STREAM_DROPPED:     (_MR,     (_R,  _R,      _U,    _F,   _R)),
    Failure.AUTH:               (_AN,     (_F,  _F,      _F,    _F,   _F)),
    Failure.STATUS_4XX:         (_AN,     (_F,  _F,      _F,    _F,   _F)),
    Failure.STATUS_5XX:         (_AN,     (_F,  _F,      _F,    _F,   _F)),
    Failure.PROTOCOL:           (_AN,     (_F,  _F,      _F,    _F,   _F)),
}
# fmt: on

EVIDENCE: Mapping[Failure, Evidence] = MappingProxyType({f: row[0] for f, row in _ROWS.items()})
"""failure -> what it says about the request and the server."""

RETRY_TABLE: Mapping[Failure, Mapping[MethodClass, Decision]] = MappingProxyType(
    {failure: MappingProxyType(dict(zip(_COLUMNS, row, strict=True))) for failure, (_, row) in _ROWS.items()}
)
"""failure -> method class -> decision. Every cell is covered by a unit test."""

_STATUS_ROWS = {
    408: Failure.STATUS_408,
    429: Failure.STATUS_429,
    502: Failure.STATUS_502,
    503: Failure.STATUS_503,
    504: Failure.STATUS_504,
    401: Failure.AUTH,
    403: Failure.AUTH,
}


def failure_of(exc: UpstreamError) -> Failure:
    """The table row for an upstream failure."""
    if isinstance(exc, UpstreamStatus):
        row = _STATUS_ROWS.get(exc.status)
        if row is not None:
            return row
        return Failure.STATUS_5XX if exc.status >= 500 else Failure.STATUS_4XX
    try:
        return Failure(exc.failure)
    except ValueError:
        return Failure.PROTOCOL


def decide(failure: Failure, method: MethodClass) -> Decision:
    return RETRY_TABLE[failure][method]


def shows_unavailable(exc: UpstreamError) -> bool:
    """Whether a failed probe means the server is not (yet) serving: anything but an answer."""
    return EVIDENCE[failure_of(exc)] in (Evidence.UNAVAILABLE, Evidence.MAY_HAVE_RUN)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter, paced to the client's patience (see *Cadence* above).

    Attempt n waits in [d/2, d], d = min(cap, base * 2**(n-1)); the cap is
    ``patient_cap_s`` while the request is younger than ``patience_s``, else ``cap_s``.
    """

    base_s: float = 0.05
    cap_s: float = 2.0
    patience_s: float = 5.0
    """How long the client is assumed to wait for an answer (Claude Code: 5 s for an MCP tools fetch)."""
    patient_cap_s: float = 0.5
    """The longest gap between tries while the client still waits."""
    max_retry_after_s: float = 60.0
    """A longer ``Retry-After`` is waited for only this long (and never past the retry window)."""

    def delay(
        self,
        attempt: int,
        rng: random.Random,
        retry_after_s: float | None = None,
        *,
        age_s: float | None = None,
    ) -> float:
        """The wait before retry ``attempt`` (1-based) of a request ``age_s`` old (None: past its patience)."""
        if retry_after_s is not None:
            return max(0.0, retry_after_s)
        patient = age_s is not None and age_s < self.patience_s
        cap = min(self.cap_s, self.patient_cap_s) if patient else self.cap_s
        ceiling = min(cap, self.base_s * float(2 ** min(max(0, attempt - 1), 62)))
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


@dataclass
class AttemptLog:
    """What happened while retrying, for the error message and the logs."""

    attempts: int = 0
    """Times the request itself was sent."""
    failures: list[str] = field(default_factory=list)
    decision: Decision | None = None
    gave_up_reason: str = ""
    counted_retries: int = 0
    """Re-sends counted against ``--retries`` (decision ``retry``)."""
    waits: int = 0
    """Retries while the server was unavailable (decision ``wait``)."""
    probes: int = 0
    """Probes sent while waiting for the server to answer again."""
    first_failure_at: float | None = None
    last_error: UpstreamError | None = None
    window_closed: bool = False


@dataclass(frozen=True, slots=True)
class _Limits:
    retries: int
    deadline: float
    started: float
    window_s: float
    clock: Callable[[], float]
    rng: random.Random
    sleep: Callable[[float], Awaitable[None]]
    backoff: Backoff

    def age(self) -> float:
        return self.clock() - self.started

    def window_end(self, record: AttemptLog) -> float:
        start = record.first_failure_at if record.first_failure_at is not None else self.clock()
        return min(start + self.window_s, self.deadline)


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    method: MethodClass,
    retries: int,
    deadline: float,
    clock: Callable[[], float],
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]],
    backoff: Backoff = Backoff(),
    record: AttemptLog | None = None,
    window_s: float = 0.0,
    probe: Probe | None = None,
    started: float | None = None,
) -> T:
    """Run ``attempt`` until it succeeds or the tables, ``retries``, ``window_s`` or ``deadline`` say stop.

    ``window_s`` is how long (from the first failure) an unavailable server is
    waited for; ``probe``, if given, is what tells that it answers again before
    a request that may have run is re-sent; ``started`` is when the client sent
    the request (default: now), which paces the waits (:class:`Backoff`). Raises the last
    :class:`UpstreamError`; ``record`` (if given) says how many attempts were
    made, what failed each time, and why the loop gave up.
    """
    record = record if record is not None else AttemptLog()
    limits = _Limits(
        retries, deadline, started if started is not None else clock(), window_s, clock, rng, sleep, backoff
    )
    # Attempt 1, as tenacity would run it (no decision yet, so no probe): only a failure needs the rest.
    record.attempts += 1
    try:
        return await attempt()
    except UpstreamError as exc:
        first_failure: UpstreamError | None = exc
    import tenacity  # off the start-up path: only a failed attempt needs it

    def should_retry(state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed or record.window_closed:
            return False
        exc = outcome.exception()
        if not isinstance(exc, UpstreamError):
            return False
        failure = failure_of(exc)
        if record.first_failure_at is None:
            record.first_failure_at = clock()
        record.failures.append(str(exc))
        record.last_error = exc
        record.decision = decide(failure, method)
        if record.decision not in (Decision.WAIT, Decision.RETRY):
            record.gave_up_reason = f"{failure.value} is not retried for {method.value} requests"
            return False
        if retries == 0:
            record.gave_up_reason = "retries are off (--retries 0)"
            return False
        return True

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = exc.retry_after_s if isinstance(exc, UpstreamStatus) else None
        if record.decision is Decision.WAIT:
            if retry_after is None:
                return backoff.delay(record.waits + 1, rng, age_s=limits.age())
            # Honour Retry-After, but not past the window's end (one last try there); once the window
            # is over, the minimum count's retries wait as long as the server asks.
            room = limits.window_end(record) - clock()
            asked = min(retry_after, backoff.max_retry_after_s)
            return min(asked, room) if room > 0 else asked
        if retry_after is not None:
            return min(retry_after, backoff.max_retry_after_s)
        return backoff.delay(record.counted_retries + 1, rng, age_s=limits.age())

    def stop(state: tenacity.RetryCallState) -> bool:
        upcoming = state.upcoming_sleep or 0.0
        now = clock()
        if now + upcoming >= deadline:
            record.gave_up_reason = f"next retry (in {upcoming:.2f} s) would pass the deadline"
            return True
        if record.decision is Decision.RETRY:
            if record.counted_retries >= retries:
                record.gave_up_reason = f"retry limit reached ({retries} retries)"
                return True
            return False
        within_minimum = state.attempt_number <= retries
        if not within_minimum and now + upcoming > limits.window_end(record):
            record.gave_up_reason = (
                f"server still unavailable at the end of the {window_s:g} s retry window"
                if window_s > 0
                else f"retry limit reached ({retries} retries; --retry-window 0)"
            )
            return True
        return False

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if record.decision is Decision.RETRY:
            record.counted_retries += 1
        else:
            record.waits += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        log.info(
            "attempt %d failed (%s); %s in %.2f s",
            state.attempt_number,
            exc,
            "retrying" if record.decision is Decision.RETRY else "server unavailable, retrying",
            state.upcoming_sleep,
        )

    retrying = tenacity.AsyncRetrying(
        retry=should_retry,
        wait=wait,
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    async for attempt_state in retrying:
        with attempt_state:
            if first_failure is not None:  # attempt 1 already ran above: hand tenacity its outcome
                failed, first_failure = first_failure, None
                raise failed
            if (
                record.decision is Decision.RETRY
                and probe is not None
                and clock() < limits.window_end(record)
            ):
                await _await_server(probe, limits, record)
            record.attempts += 1
            return await attempt()
    raise AssertionError("unreachable: tenacity either returns, retries or reraises")  # pragma: no cover


async def _await_server(probe: Probe, limits: _Limits, record: AttemptLog) -> None:
    """Probe until the server answers; at the window's end re-raise the request's last failure."""
    assert record.last_error is not None
    until = limits.window_end(record)
    tries = 0
    while True:
        tries += 1
        record.probes += 1
        now = limits.clock()
        problem = ""
        with anyio.move_on_after(max(until - now, 0.0)) as scope:
            try:
                await probe()
            except UpstreamError as exc:
                if not shows_unavailable(exc):
                    return  # it answered (even 4xx/404): the server is up
                problem = str(exc)
            else:
                return
        if scope.cancelled_caught:
            problem = "no answer before the retry window closed"
        delay = limits.backoff.delay(tries, limits.rng, age_s=limits.age())
        if limits.clock() + delay >= until:
            record.window_closed = True
            record.gave_up_reason = (
                f"server still unavailable at the end of the {limits.window_s:g} s retry window "
                f"({record.probes} probe(s); last: {problem})"
            )
            raise record.last_error
        log.info("server not answering yet (%s); probing again in %.2f s", problem, delay)
        await limits.sleep(delay)
