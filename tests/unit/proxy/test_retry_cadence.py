"""The retry cadence: fast first tries while the client waits, capped backoff after, never past --max-time.

Time is fake (it moves only when the code under test sleeps), so outages of
seconds cost nothing; each test states the cadence property it pins down.
"""

from __future__ import annotations

import itertools
import random

import anyio.lowlevel
import pytest

from agentdock.proxy.errors import StreamDropped, UpstreamError, UpstreamStatus, UpstreamUnreachable
from agentdock.proxy.messages import MethodClass
from agentdock.proxy.retry import AttemptLog, Backoff, call_with_retries

pytestmark = pytest.mark.anyio


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


class Server:
    """An attempt (and probe) against a server that is down until ``up_at``; ``burst`` 503s come first."""

    def __init__(
        self, time: FakeTime, *, up_at: float = 0.0, burst: int = 0, down: UpstreamError | None = None
    ):
        self.time = time
        self.up_at = up_at
        self.burst = burst
        self.down = down or UpstreamUnreachable("cannot connect: Connection refused")
        self.attempts: list[float] = []

    async def __call__(self) -> str:
        self.attempts.append(self.time.now)
        if self.burst > 0:
            self.burst -= 1
            raise UpstreamStatus(503, "Service Unavailable")
        if self.time.now < self.up_at:
            raise self.down
        return "ok"

    async def probe(self) -> None:
        if self.time.now < self.up_at:
            raise self.down


async def run(
    server: Server, *, deadline: float = 300.0, window_s: float = 30.0, method: MethodClass = MethodClass.SAFE
) -> tuple[str, AttemptLog]:
    record = AttemptLog()
    result = await call_with_retries(
        server,
        method=method,
        retries=3,
        deadline=deadline,
        clock=server.time.clock,
        rng=random.Random(7),
        sleep=server.time.sleep,
        record=record,
        window_s=window_s,
        probe=server.probe,
        started=0.0,
    )
    return result, record


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.025, 0.05), (2, 0.05, 0.1), (3, 0.1, 0.2), (4, 0.2, 0.4), (5, 0.25, 0.5), (30, 0.25, 0.5)],
)
def test_while_the_client_waits_tries_start_at_50_ms_double_and_stay_within_half_a_second(
    attempt: int, low: float, high: float
) -> None:
    rng = random.Random(attempt)
    delays = [Backoff().delay(attempt, rng, age_s=1.0) for _ in range(100)]
    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 1, "jittered"


@pytest.mark.parametrize("age_s", [5.0, 12.0, None])
def test_once_the_clients_patience_is_spent_the_gaps_grow_to_two_seconds(age_s: float | None) -> None:
    rng = random.Random(1)
    delays = [Backoff().delay(20, rng, age_s=age_s) for _ in range(100)]
    assert all(1.0 <= d <= 2.0 for d in delays)


def test_a_huge_attempt_number_is_still_capped() -> None:
    assert Backoff().delay(10_000, random.Random(1), age_s=None) <= 2.0


def test_retry_after_wins_over_the_cadence_even_while_the_client_waits() -> None:
    assert Backoff().delay(1, random.Random(1), retry_after_s=3.0, age_s=0.1) == 3.0


async def test_a_burst_of_five_503s_costs_well_under_a_second() -> None:
    time = FakeTime()
    server = Server(time, burst=5)
    result, record = await run(server)
    assert result == "ok" and record.waits == 5
    assert time.now <= 0.05 + 0.1 + 0.2 + 0.4 + 0.5


@pytest.mark.parametrize("outage_s", [0.3, 1.0, 2.5, 4.0])
async def test_a_server_restart_is_answered_within_half_a_second_of_its_return_inside_five_seconds(
    outage_s: float,
) -> None:
    time = FakeTime()
    server = Server(time, up_at=outage_s)
    result, _ = await run(server)
    assert result == "ok"
    assert outage_s <= time.now <= outage_s + 0.5
    assert time.now < 5.0, "inside Claude Code's 5 s deadline"


async def test_a_restart_that_cuts_a_request_in_flight_is_resent_soon_after_the_server_returns() -> None:
    time = FakeTime()
    server = Server(time, up_at=2.0, down=StreamDropped("connection reset by peer"))
    result, record = await run(server, method=MethodClass.SAFE)
    assert result == "ok"
    assert record.probes >= 1 and time.now <= 2.5


async def test_a_long_outage_is_not_hammered_once_the_client_would_have_given_up() -> None:
    time = FakeTime()
    server = Server(time, up_at=25.0)
    result, _ = await run(server)
    assert result == "ok"
    late = [t for t in server.attempts if t >= 10.0]
    gaps = [b - a for a, b in itertools.pairwise(late)]
    assert gaps and min(gaps) >= 1.0
    early = [t for t in server.attempts if t < 5.0]
    assert len(early) >= 10, "many tries while the client still waits"


@pytest.mark.parametrize("max_time_s", [0.7, 3.0, 8.0])
async def test_a_request_never_outlives_max_time_whatever_the_window(max_time_s: float) -> None:
    time = FakeTime()
    server = Server(time, up_at=1e9)
    with pytest.raises(UpstreamUnreachable):
        await run(server, deadline=max_time_s, window_s=30.0)
    assert time.now < max_time_s
    assert all(t < max_time_s for t in server.attempts)
