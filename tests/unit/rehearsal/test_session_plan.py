"""A session trial's script and mid-session faults: seeded, complete, and scored honestly."""

from __future__ import annotations

import pytest

from agentdock.rehearsal.records import StepRecord
from agentdock.rehearsal.scenario import BUILTINS
from agentdock.rehearsal.sessions.plan import CALLS, EVENTS, draw_events, session_scenario
from agentdock.rehearsal.sessions.trial import path_result
from agentdock.rehearsal.template import references
from agentdock.soak.profiles import launch_seed

LIFETIME = 6.0


def test_the_same_seed_draws_the_same_faults_and_the_baseline_draws_none() -> None:
    seeds = [launch_seed(11, i) for i in range(50)]
    assert [draw_events(s, "flaky", LIFETIME) for s in seeds] == [
        draw_events(s, "flaky", LIFETIME) for s in seeds
    ]
    assert all(draw_events(s, "none", LIFETIME) == () for s in seeds)
    assert all([e.kind for e in draw_events(s, "restart", LIFETIME)] == ["restart-qms"] for s in seeds)


@pytest.mark.parametrize("profile", ["flaky", "hostile"])
def test_every_faulty_session_gets_faults_on_distinct_calls_after_the_document_exists(profile: str) -> None:
    kinds_seen: set[str] = set()
    for index in range(200):
        events = draw_events(launch_seed(3, index), profile, LIFETIME)
        assert events, "a faulty profile always injects something mid-session"
        places = [e.before_call for e in events]
        assert len(set(places)) == len(places) and all(3 <= p <= CALLS for p in places)
        for event in events:
            kinds_seen.add(event.kind)
            if event.kind == "idle-gap":
                assert event.seconds > LIFETIME  # longer than the servers' session lifetime
            if event.kind == "partition":
                assert event.seconds >= 2.0
            if event.kind == "burst-503":
                assert event.count >= 1
    assert kinds_seen == set(EVENTS)


def test_the_script_is_20_mcp_calls_reading_and_writing_with_faults_on_their_steps() -> None:
    events = draw_events(launch_seed(7, 69), "flaky", LIFETIME)  # this seed draws all six kinds
    assert {e.kind for e in events} == set(EVENTS)
    scenario = session_scenario("s", events)
    (turn,) = scenario.turns
    assert len(turn.steps) == CALLS == 20
    assert all(step.tool.startswith(("mcp__qms__", "mcp__git__")) for step in turn.steps)
    tools = {step.tool.rsplit("__", 1)[1] for step in turn.steps}
    assert {"qms_create", "qms_checkin", "qms_checkout", "qms_route", "git_exec"} <= tools
    saved = set(BUILTINS)
    for step in turn.steps:  # every template names a built-in or an earlier step's save
        assert references(dict(step.input)) <= saved
        if step.save:
            saved.add(step.save)
    by_call = {e.before_call: e for e in events}
    for number, step in enumerate(turn.steps, 1):
        event = by_call.get(number)
        assert step.fault == (event.kind if event else None)
        assert step.wait_s == (event.seconds if event and event.kind == "idle-gap" else 0.0)


def _step(n: int, outcome: str, tool: str = "mcp__qms__qms_status", **kw: object) -> StepRecord:
    record = StepRecord(turn=1, step=n, agent="claude", tool=tool, outcome=outcome)  # type: ignore[arg-type]
    for key, value in kw.items():
        setattr(record, key, value)
    return record


def test_a_session_is_ok_only_when_every_call_held_and_ran_exactly_once() -> None:
    steps = [_step(1, "ok", latency_ms=5.0), _step(2, "ok", fault="reset")]
    good = path_result(steps, exit_code=0, finished=True, problems=[], audit=[], duration_ms=10.0)
    assert good.ok and good.duplicates == 0 and good.first_response_ms == 5.0
    assert [c.event for c in good.calls] == [None, "reset"]

    dup = path_result(
        steps, exit_code=0, finished=True, problems=[], duration_ms=10.0,
        audit=["duplicate execution: CHECKIN by claude is in the audit trail 2 time(s), called 1 time(s)"],
    )  # fmt: skip
    assert not dup.ok and dup.failed_step == "audit" and dup.duplicates == 1

    failed = [
        _step(1, "ok"),
        _step(2, "failed", tool="mcp__qms__qms_checkin", problems=["boom"]),
        _step(3, "pending"),
    ]
    bad = path_result(failed, exit_code=0, finished=True, problems=[], audit=[], duration_ms=1.0)
    assert not bad.ok and bad.failed_step == "call02:qms_checkin" and bad.error == "boom"
    assert [(c.ok, c.ran) for c in bad.calls] == [(True, True), (False, True), (False, False)]

    crashed = path_result(steps, exit_code=1, finished=False, problems=[], audit=[], duration_ms=1.0)
    assert not crashed.ok and crashed.failed_step == "session"
