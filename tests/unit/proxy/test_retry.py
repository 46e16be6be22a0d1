"""The retry decision table and the retry loop built on it."""

from __future__ import annotations

import random

import anyio
import pytest

from agentdock.proxy.errors import (
    ResponseTimeout,
    StreamDropped,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatus,
    UpstreamUnreachable,
)
from agentdock.proxy.messages import MethodClass
from agentdock.proxy.retry import (
    RETRY_TABLE,
    AttemptLog,
    Backoff,
    Decision,
    Failure,
    call_with_retries,
    decide,
    failure_of,
)

NEVER_ARRIVED = [
    Failure.CONNECT,
    Failure.CONNECT_TIMEOUT,
    Failure.STATUS_408,
    Failure.STATUS_429,
    Failure.STATUS_503,
]
MAY_HAVE_ARRIVED = [Failure.STATUS_502, Failure.STATUS_504, Failure.RESPONSE_TIMEOUT, Failure.STREAM_DROPPED]
ANSWERED = [Failure.AUTH, Failure.STATUS_4XX, Failure.STATUS_5XX, Failure.PROTOCOL]


def test_the_table_has_a_decision_for_every_failure_and_method_class() -> None:
    assert set(RETRY_TABLE) == set(Failure)
    for row in RETRY_TABLE.values():
        assert set(row) == set(MethodClass)
    assert set(NEVER_ARRIVED + MAY_HAVE_ARRIVED + ANSWERED) == set(Failure)


@pytest.mark.parametrize("failure", NEVER_ARRIVED)
@pytest.mark.parametrize("method", list(MethodClass))
def test_a_request_that_never_arrived_is_retried_whatever_the_method(
    failure: Failure, method: MethodClass
) -> None:
    assert decide(failure, method) is Decision.RETRY


@pytest.mark.parametrize("failure", MAY_HAVE_ARRIVED)
@pytest.mark.parametrize("method", [MethodClass.SAFE, MethodClass.TOOL_CALL_KEYED, MethodClass.REPLY])
def test_a_request_that_may_have_arrived_is_retried_only_when_repeating_is_harmless(
    failure: Failure, method: MethodClass
) -> None:
    assert decide(failure, method) is Decision.RETRY


@pytest.mark.parametrize("failure", MAY_HAVE_ARRIVED)
def test_an_unkeyed_side_effect_that_may_have_arrived_is_reported_as_outcome_unknown(
    failure: Failure,
) -> None:
    assert decide(failure, MethodClass.UNSAFE) is Decision.OUTCOME_UNKNOWN


@pytest.mark.parametrize("failure", MAY_HAVE_ARRIVED)
def test_a_notification_that_may_have_arrived_is_not_sent_twice(failure: Failure) -> None:
    assert decide(failure, MethodClass.NOTIFICATION) is Decision.FAIL


@pytest.mark.parametrize("failure", ANSWERED)
@pytest.mark.parametrize("method", list(MethodClass))
def test_a_request_the_server_answered_is_never_retried(failure: Failure, method: MethodClass) -> None:
    assert decide(failure, method) is Decision.FAIL


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (UpstreamUnreachable("refused"), Failure.CONNECT),
        (UpstreamUnreachable("slow", timed_out=True), Failure.CONNECT_TIMEOUT),
        (UpstreamStatus(429, "Too Many Requests"), Failure.STATUS_429),
        (UpstreamStatus(503, "Service Unavailable"), Failure.STATUS_503),
        (UpstreamStatus(502, "Bad Gateway"), Failure.STATUS_502),
        (UpstreamStatus(504, "Gateway Timeout"), Failure.STATUS_504),
        (UpstreamStatus(408, "Request Timeout"), Failure.STATUS_408),
        (UpstreamStatus(401, "Unauthorized"), Failure.AUTH),
        (UpstreamStatus(403, "Forbidden"), Failure.AUTH),
        (UpstreamStatus(400, "Bad Request"), Failure.STATUS_4XX),
        (UpstreamStatus(413, "Content Too Large"), Failure.STATUS_4XX),
        (UpstreamStatus(500, "Internal Server Error"), Failure.STATUS_5XX),
        (ResponseTimeout("late"), Failure.RESPONSE_TIMEOUT),
        (StreamDropped("cut"), Failure.STREAM_DROPPED),
        (UpstreamProtocolError("garbage"), Failure.PROTOCOL),
    ],
)
def test_each_upstream_failure_maps_to_its_table_row(exc: UpstreamError, failure: Failure) -> None:
    assert failure_of(exc) is failure


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    backoff = Backoff(base_s=0.1, cap_s=1.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_retry_after_overrides_the_backoff() -> None:
    assert Backoff().delay(1, random.Random(1), retry_after_s=7.0) == 7.0


class Script:
    """An attempt function that fails with the given errors, then returns 'ok'."""

    def __init__(self, *errors: UpstreamError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def run(script: Script, method: MethodClass, *, retries: int = 3, deadline: float = 1e9, **kw: object):
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await anyio.lowlevel.checkpoint()

    record = AttemptLog()
    result = await call_with_retries(
        script,
        method=method,
        retries=retries,
        deadline=deadline,
        clock=lambda: 0.0,
        rng=random.Random(3),
        sleep=sleep,
        record=record,
        **kw,  # type: ignore[arg-type]
    )
    return result, sleeps, record


@pytest.mark.anyio
async def test_transient_failures_are_retried_until_success() -> None:
    script = Script(UpstreamUnreachable("refused"), UpstreamStatus(503, "Service Unavailable"))
    result, sleeps, record = await run(script, MethodClass.SAFE)
    assert result == "ok" and script.calls == 3 and record.attempts == 3 and len(sleeps) == 2


@pytest.mark.anyio
async def test_the_retry_limit_stops_the_loop_and_reraises_the_last_failure() -> None:
    script = Script(*[UpstreamStatus(503, "Service Unavailable") for _ in range(10)])
    with pytest.raises(UpstreamStatus):
        await run(script, MethodClass.SAFE, retries=2)
    assert script.calls == 3


@pytest.mark.anyio
async def test_retry_after_is_waited_for() -> None:
    script = Script(UpstreamStatus(429, "Too Many Requests", retry_after_s=2.5))
    _, sleeps, _ = await run(script, MethodClass.UNSAFE)
    assert sleeps == [2.5]


@pytest.mark.anyio
async def test_a_retry_that_would_pass_the_deadline_is_not_attempted() -> None:
    script = Script(UpstreamStatus(503, "Service Unavailable", retry_after_s=30.0))
    with pytest.raises(UpstreamStatus):
        await run(script, MethodClass.SAFE, deadline=10.0)
    assert script.calls == 1


@pytest.mark.anyio
async def test_an_unkeyed_tool_call_whose_stream_dropped_is_not_retried() -> None:
    script = Script(StreamDropped("cut"))
    with pytest.raises(StreamDropped):
        await run(script, MethodClass.UNSAFE)
    assert script.calls == 1


@pytest.mark.anyio
async def test_a_keyed_tool_call_whose_stream_dropped_is_retried() -> None:
    result, _, record = await run(Script(StreamDropped("cut")), MethodClass.TOOL_CALL_KEYED)
    assert result == "ok" and record.attempts == 2


@pytest.mark.anyio
async def test_a_client_error_is_not_retried() -> None:
    script = Script(UpstreamStatus(400, "Bad Request"))
    with pytest.raises(UpstreamStatus):
        await run(script, MethodClass.SAFE)
    assert script.calls == 1
