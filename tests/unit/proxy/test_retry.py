"""The retry tables and the retry loop built on them (fake clock, no real waiting)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from agentdock.proxy.errors import (
    ResponseTimeout,
    SessionExpired,
    StreamDropped,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatus,
    UpstreamUnreachable,
)
from agentdock.proxy.messages import MethodClass
from agentdock.proxy.retry import (
    EVIDENCE,
    RETRY_TABLE,
    AttemptLog,
    Backoff,
    Decision,
    Evidence,
    Failure,
    call_with_retries,
    decide,
    failure_of,
    shows_unavailable,
)

UNAVAILABLE = [Failure.CONNECT, Failure.CONNECT_TIMEOUT, Failure.STATUS_429, Failure.STATUS_503]
NOT_TAKEN = [Failure.STATUS_408]
MAY_HAVE_RUN = [Failure.STATUS_502, Failure.STATUS_504, Failure.RESPONSE_TIMEOUT, Failure.STREAM_DROPPED]
ANSWERED = [Failure.AUTH, Failure.STATUS_4XX, Failure.STATUS_5XX, Failure.PROTOCOL]
HARMLESS_TO_REPEAT = [MethodClass.SAFE, MethodClass.TOOL_CALL_KEYED, MethodClass.REPLY]


def test_the_tables_have_a_decision_for_every_failure_and_method_class() -> None:
    assert set(RETRY_TABLE) == set(Failure) == set(EVIDENCE)
    for row in RETRY_TABLE.values():
        assert set(row) == set(MethodClass)
    assert set(UNAVAILABLE + NOT_TAKEN + MAY_HAVE_RUN + ANSWERED) == set(Failure)


@pytest.mark.parametrize(
    ("failures", "evidence"),
    [
        (UNAVAILABLE, Evidence.UNAVAILABLE),
        (NOT_TAKEN, Evidence.NOT_TAKEN),
        (MAY_HAVE_RUN, Evidence.MAY_HAVE_RUN),
        (ANSWERED, Evidence.ANSWERED),
    ],
)
def test_each_failure_says_what_it_tells_about_the_request_and_the_server(
    failures: list[Failure], evidence: Evidence
) -> None:
    assert {EVIDENCE[f] for f in failures} == {evidence}


@pytest.mark.parametrize("failure", UNAVAILABLE)
@pytest.mark.parametrize("method", list(MethodClass))
def test_an_unavailable_server_is_waited_for_whatever_the_method(
    failure: Failure, method: MethodClass
) -> None:
    assert decide(failure, method) is Decision.WAIT


@pytest.mark.parametrize("method", list(MethodClass))
def test_a_request_timeout_status_is_retried_within_the_count_whatever_the_method(
    method: MethodClass,
) -> None:
    assert decide(Failure.STATUS_408, method) is Decision.RETRY


@pytest.mark.parametrize("failure", MAY_HAVE_RUN)
@pytest.mark.parametrize("method", HARMLESS_TO_REPEAT)
def test_a_request_that_may_have_run_is_retried_within_the_count_only_when_repeating_is_harmless(
    failure: Failure, method: MethodClass
) -> None:
    assert decide(failure, method) is Decision.RETRY


@pytest.mark.parametrize("failure", MAY_HAVE_RUN)
def test_an_unkeyed_side_effect_that_may_have_run_is_reported_as_outcome_unknown(failure: Failure) -> None:
    assert decide(failure, MethodClass.UNSAFE) is Decision.OUTCOME_UNKNOWN


@pytest.mark.parametrize("failure", MAY_HAVE_RUN)
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


@pytest.mark.parametrize(
    ("exc", "down"),
    [
        (UpstreamUnreachable("refused"), True),
        (UpstreamStatus(503, "Service Unavailable"), True),
        (UpstreamStatus(502, "Bad Gateway"), True),
        (StreamDropped("reset by a TCP proxy whose backend is gone"), True),
        (ResponseTimeout("no answer"), True),
        (UpstreamStatus(400, "Bad Request"), False),
        (UpstreamStatus(401, "Unauthorized"), False),
        (UpstreamStatus(408, "Request Timeout"), False),
        (SessionExpired("s-1"), False),
        (UpstreamProtocolError("odd body"), False),
    ],
)
def test_a_probe_shows_the_server_down_unless_the_server_answered_it(exc: UpstreamError, down: bool) -> None:
    assert shows_unavailable(exc) is down


def test_backoff_grows_exponentially_with_jitter_and_is_capped_at_two_seconds_by_default() -> None:
    backoff = Backoff(base_s=0.1, cap_s=1.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert max(Backoff().delay(20, rng) for _ in range(50)) <= 2.0


def test_retry_after_overrides_the_backoff() -> None:
    assert Backoff().delay(1, random.Random(1), retry_after_s=7.0) == 7.0


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


class Script:
    """An attempt function failing with scripted errors (a callable of the fake time), then 'ok'."""

    def __init__(
        self, time: FakeTime, *errors: UpstreamError | Callable[[float], UpstreamError | None]
    ) -> None:
        self.time = time
        self.errors = list(errors)
        self.calls = 0
        self.times: list[float] = []

    async def __call__(self) -> str:
        self.calls += 1
        self.times.append(self.time.now)
        if self.errors:
            head = self.errors[0]
            if callable(head) and not isinstance(head, UpstreamError):
                error = head(self.time.now)
                if error is None:
                    return "ok"
                raise error
            self.errors.pop(0)
            raise head
        return "ok"


class Prober:
    """A probe that finds the server down until ``up_at`` (fake seconds)."""

    def __init__(self, time: FakeTime, up_at: float, down: UpstreamError | None = None) -> None:
        self.time = time
        self.up_at = up_at
        self.down = down or UpstreamUnreachable("cannot connect: Connection refused")
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.time.now < self.up_at:
            raise self.down


async def run(
    script: Script,
    method: MethodClass,
    *,
    retries: int = 3,
    deadline: float = 1e9,
    window_s: float = 0.0,
    probe: Any = None,
) -> tuple[str, AttemptLog]:
    record = AttemptLog()
    result = await call_with_retries(
        script,
        method=method,
        retries=retries,
        deadline=deadline,
        clock=script.time.clock,
        rng=random.Random(3),
        sleep=script.time.sleep,
        record=record,
        window_s=window_s,
        probe=probe,
    )
    return result, record


async def fail(script: Script, method: MethodClass, error: type[UpstreamError], **kw: Any) -> AttemptLog:
    record = AttemptLog()
    with pytest.raises(error):
        await call_with_retries(
            script,
            method=method,
            retries=kw.pop("retries", 3),
            deadline=kw.pop("deadline", 1e9),
            clock=script.time.clock,
            rng=random.Random(3),
            sleep=script.time.sleep,
            record=record,
            **kw,
        )
    return record


def down_until(t: float, error: UpstreamError) -> Callable[[float], UpstreamError | None]:
    return lambda now: error if now < t else None


@pytest.mark.anyio
async def test_transient_failures_are_retried_until_success() -> None:
    time = FakeTime()
    script = Script(time, UpstreamUnreachable("refused"), UpstreamStatus(503, "Service Unavailable"))
    result, record = await run(script, MethodClass.SAFE)
    assert result == "ok" and script.calls == 3 and record.attempts == 3 and len(time.sleeps) == 2


@pytest.mark.anyio
async def test_an_outage_longer_than_the_retries_is_ridden_out_within_the_window() -> None:
    time = FakeTime()
    script = Script(time, down_until(8.0, UpstreamStatus(503, "Service Unavailable")))
    result, record = await run(script, MethodClass.TOOL_CALL_KEYED, retries=3, window_s=30.0)
    assert result == "ok"
    assert record.attempts > 4 and record.waits == record.attempts - 1 and record.counted_retries == 0
    assert time.now >= 8.0 and max(time.sleeps) <= 2.0  # capped backoff: back soon after the server is


@pytest.mark.anyio
async def test_a_burst_of_unavailability_does_not_use_up_the_retries_for_a_dropped_stream() -> None:
    # the soak's failing launch: three 503s and a reset, against --retries 3
    time = FakeTime()
    busy = UpstreamStatus(503, "Service Unavailable")
    script = Script(time, busy, busy, busy, StreamDropped("reset"), busy)
    result, record = await run(script, MethodClass.SAFE, retries=3, window_s=30.0, probe=Prober(time, 0.0))
    assert result == "ok" and record.counted_retries == 1 and record.waits == 4


@pytest.mark.anyio
async def test_a_server_down_for_the_whole_window_gets_an_error_naming_the_window() -> None:
    time = FakeTime()
    script = Script(time, down_until(1e9, UpstreamStatus(503, "Service Unavailable")))
    record = await fail(script, MethodClass.SAFE, UpstreamStatus, retries=3, window_s=30.0)
    assert record.attempts > 4
    assert 28.0 <= time.now <= 30.0, "it gives up at the window's end, not before or long after"
    assert "30 s retry window" in record.gave_up_reason


@pytest.mark.anyio
async def test_retries_are_the_minimum_count_even_when_the_window_is_shorter() -> None:
    time = FakeTime()
    script = Script(time, down_until(1e9, UpstreamUnreachable("refused")))
    record = await fail(script, MethodClass.SAFE, UpstreamUnreachable, retries=5, window_s=0.01)
    assert record.attempts == 6


@pytest.mark.anyio
async def test_the_window_never_extends_past_the_deadline() -> None:
    time = FakeTime()
    script = Script(time, down_until(1e9, UpstreamUnreachable("refused")))
    record = await fail(script, MethodClass.SAFE, UpstreamUnreachable, window_s=30.0, deadline=5.0)
    assert time.now < 5.0 and "deadline" in record.gave_up_reason


@pytest.mark.anyio
async def test_zero_retries_means_no_retry_and_no_waiting_at_all() -> None:
    time = FakeTime()
    prober = Prober(time, 0.0)
    for error in (UpstreamStatus(503, "Service Unavailable"), StreamDropped("cut")):
        script = Script(time, error)
        record = await fail(script, MethodClass.SAFE, type(error), retries=0, window_s=30.0, probe=prober)
        assert script.calls == 1 and "--retries 0" in record.gave_up_reason
    assert time.sleeps == [] and prober.calls == 0


@pytest.mark.anyio
async def test_retry_after_is_waited_for() -> None:
    time = FakeTime()
    script = Script(time, UpstreamStatus(429, "Too Many Requests", retry_after_s=2.5))
    await run(script, MethodClass.UNSAFE, window_s=30.0)
    assert time.sleeps == [2.5]


@pytest.mark.anyio
async def test_a_retry_after_beyond_the_window_is_cut_to_one_last_try_at_the_windows_end() -> None:
    time = FakeTime()
    script = Script(time, *[UpstreamStatus(503, "Service Unavailable", retry_after_s=120.0)] * 5)
    record = await fail(script, MethodClass.SAFE, UpstreamStatus, retries=1, window_s=10.0)
    assert time.sleeps == [10.0] and script.calls == 2
    assert "retry window" in record.gave_up_reason


@pytest.mark.anyio
async def test_a_retry_that_would_pass_the_deadline_is_not_attempted() -> None:
    time = FakeTime()
    script = Script(time, UpstreamStatus(503, "Service Unavailable", retry_after_s=30.0))
    await fail(script, MethodClass.SAFE, UpstreamStatus, deadline=10.0)
    assert script.calls == 1


@pytest.mark.anyio
async def test_a_request_that_may_have_run_is_resent_only_after_the_server_answers_a_probe() -> None:
    # a restart: the call in flight is cut, the server is gone for 2.5 s (a TCP proxy in front of it resets
    # every connection meanwhile), then it answers again
    time = FakeTime()
    prober = Prober(time, up_at=2.5, down=StreamDropped("connection reset before the response"))
    script = Script(time, StreamDropped("cut mid-call"))
    result, record = await run(script, MethodClass.TOOL_CALL_KEYED, retries=3, window_s=30.0, probe=prober)
    assert result == "ok" and script.calls == 2 and record.counted_retries == 1
    assert prober.calls > 1 and script.times[1] >= 2.5


@pytest.mark.anyio
async def test_a_request_that_keeps_failing_while_probes_answer_is_resent_at_most_retries_times() -> None:
    # a request that crashes or hangs the server: the count, not the window, bounds it
    time = FakeTime()
    script = Script(time, down_until(1e9, StreamDropped("cut")))
    prober = Prober(time, up_at=0.0)
    record = await fail(script, MethodClass.SAFE, StreamDropped, retries=3, window_s=30.0, probe=prober)
    assert script.calls == 4 and prober.calls == 3 and "retry limit" in record.gave_up_reason


@pytest.mark.anyio
async def test_when_probes_fail_for_the_whole_window_the_request_fails_with_its_own_error() -> None:
    time = FakeTime()
    script = Script(time, StreamDropped("cut mid-call"))
    prober = Prober(time, up_at=1e9)
    record = await fail(script, MethodClass.SAFE, StreamDropped, retries=3, window_s=20.0, probe=prober)
    assert script.calls == 1 and record.attempts == 1 and prober.calls > 3
    assert 18.0 <= time.now <= 20.0
    assert "20 s retry window" in record.gave_up_reason and "Connection refused" in record.gave_up_reason


@pytest.mark.anyio
async def test_without_a_window_a_request_that_may_have_run_is_resent_without_probing() -> None:
    time = FakeTime()
    prober = Prober(time, up_at=1e9)
    script = Script(time, StreamDropped("cut"))
    result, record = await run(script, MethodClass.SAFE, window_s=0.0, probe=prober)
    assert result == "ok" and prober.calls == 0 and record.counted_retries == 1


@pytest.mark.anyio
async def test_an_unkeyed_tool_call_whose_stream_dropped_is_not_retried_or_probed() -> None:
    time = FakeTime()
    prober = Prober(time, up_at=0.0)
    script = Script(time, StreamDropped("cut"))
    record = await fail(script, MethodClass.UNSAFE, StreamDropped, window_s=30.0, probe=prober)
    assert script.calls == 1 and prober.calls == 0 and record.decision is Decision.OUTCOME_UNKNOWN


@pytest.mark.anyio
async def test_a_keyed_tool_call_whose_stream_dropped_is_retried() -> None:
    time = FakeTime()
    result, record = await run(Script(time, StreamDropped("cut")), MethodClass.TOOL_CALL_KEYED)
    assert result == "ok" and record.attempts == 2


@pytest.mark.anyio
async def test_a_client_error_is_not_retried() -> None:
    time = FakeTime()
    script = Script(time, UpstreamStatus(400, "Bad Request"))
    await fail(script, MethodClass.SAFE, UpstreamStatus, window_s=30.0)
    assert script.calls == 1
