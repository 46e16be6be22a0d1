"""When the proxy may send a request again, and how long it waits first.

The decision is a table — rows are what failed, columns are how safe the
method is to repeat (:class:`~agentdock.proxy.messages.MethodClass`) — so it
can be read, reviewed and tested cell by cell:

* The request certainly never reached the server (connection refused, connect
  timeout, 408, 429, 503): always retry.
* It may have reached the server (no response within ``--timeout``, the
  connection or stream dropped, a gateway's 502/504): retry only methods
  without side effects, ``tools/call`` carrying an ``Idempotency-Key``, and the
  client's replies to server requests. Anything else fails as *outcome
  unknown* rather than risk running twice.
* The server answered (other 4xx, 500, 501, 401/403, a malformed body): never
  retry; the answer will not change.

:func:`call_with_retries` runs an attempt function under that table with
tenacity: exponential backoff with jitter (capped), ``Retry-After`` honoured,
all within the request's overall deadline. Clock, random source and sleep are
injected so tests run without waiting.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

import tenacity

from agentdock.proxy.errors import UpstreamError, UpstreamStatus
from agentdock.proxy.messages import MethodClass

__all__ = [
    "RETRY_TABLE",
    "AttemptLog",
    "Backoff",
    "Decision",
    "Failure",
    "call_with_retries",
    "decide",
    "failure_of",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Failure(enum.StrEnum):
    """What went wrong with one HTTP exchange (the rows of the table)."""

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


class Decision(enum.StrEnum):
    RETRY = "retry"
    FAIL = "fail"
    OUTCOME_UNKNOWN = "outcome_unknown"
    """Stop: the request may have run on the server and repeating it could run it twice."""


_R, _F, _U = Decision.RETRY, Decision.FAIL, Decision.OUTCOME_UNKNOWN
_COLUMNS = (
    MethodClass.SAFE,
    MethodClass.TOOL_CALL_KEYED,
    MethodClass.UNSAFE,
    MethodClass.NOTIFICATION,
    MethodClass.REPLY,
)
# fmt: off
_ROWS: dict[Failure, tuple[Decision, ...]] = {
    #                            safe tool+key unsafe notif reply
    Failure.CONNECT:            (_R,  _R,      _R,    _R,   _R),
    Failure.CONNECT_TIMEOUT:    (_R,  _R,      _R,    _R,   _R),
    Failure.STATUS_408:         (_R,  _R,      _R,    _R,   _R),
    Failure.STATUS_429:         (_R,  _R,      _R,    _R,   _R),
    Failure.STATUS_503:         (_R,  _R,      _R,    _R,   _R),
    Failure.STATUS_502:         (_R,  _R,      _U,    _F,   _R),
    Failure.STATUS_504:         (_R,  _R,      _U,    _F,   _R),
    Failure.RESPONSE_TIMEOUT:   (_R,  _R,      _U,    _F,   _R),
    Failure.STREAM_DROPPED:     (_R,  _R,      _U,    _F,   _R),
    Failure.AUTH:               (_F,  _F,      _F,    _F,   _F),
    Failure.STATUS_4XX:         (_F,  _F,      _F,    _F,   _F),
    Failure.STATUS_5XX:         (_F,  _F,      _F,    _F,   _F),
    Failure.PROTOCOL:           (_F,  _F,      _F,    _F,   _F),
}
# fmt: on

RETRY_TABLE: Mapping[Failure, Mapping[MethodClass, Decision]] = MappingProxyType(
    {failure: MappingProxyType(dict(zip(_COLUMNS, row, strict=True))) for failure, row in _ROWS.items()}
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


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits in [d/2, d], d = min(cap, base * 2**(n-1))."""

    base_s: float = 0.2
    cap_s: float = 5.0
    max_retry_after_s: float = 60.0
    """A ``Retry-After`` longer than this is not waited for."""

    def delay(self, attempt: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        if retry_after_s is not None:
            return max(0.0, retry_after_s)
        ceiling = min(self.cap_s, self.base_s * float(2 ** max(0, attempt - 1)))
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


@dataclass
class AttemptLog:
    """What happened while retrying, for the error message and the logs."""

    attempts: int = 0
    failures: list[str] = field(default_factory=list)
    decision: Decision | None = None
    gave_up_reason: str = ""


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
) -> T:
    """Run ``attempt`` until it succeeds or the table, ``retries`` or ``deadline`` says stop.

    Raises the last :class:`UpstreamError`; ``record`` (if given) says how many
    attempts were made, what failed each time, and why the loop gave up.
    """
    record = record if record is not None else AttemptLog()

    def should_retry(state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        if not isinstance(exc, UpstreamError):
            return False
        failure = failure_of(exc)
        record.failures.append(str(exc))
        record.decision = decide(failure, method)
        if record.decision is not Decision.RETRY:
            record.gave_up_reason = f"{failure.value} is not retried for {method.value} requests"
            return False
        return True

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after: float | None = exc.retry_after_s if isinstance(exc, UpstreamStatus) else None
        if retry_after is not None and retry_after > backoff.max_retry_after_s:
            retry_after = backoff.max_retry_after_s
        return backoff.delay(state.attempt_number, rng, retry_after)

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number > retries:
            record.gave_up_reason = f"retry limit reached ({retries} retries)"
            return True
        upcoming = state.upcoming_sleep or 0.0
        if clock() + upcoming >= deadline:
            record.gave_up_reason = f"next retry (in {upcoming:.2f} s) would pass the deadline"
            return True
        return False

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        log.info(
            "attempt %d failed (%s); retrying in %.2f s",
            state.attempt_number,
            exc,
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
            record.attempts += 1
            return await attempt()
    raise AssertionError("unreachable: tenacity either returns, retries or reraises")  # pragma: no cover
