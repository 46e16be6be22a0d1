"""Figures of a repeated rehearsal: sessions and calls with Wilson bounds, duplicates, latency."""

from __future__ import annotations

from agentdock.rehearsal.records import StepRecord
from agentdock.rehearsal.repeat import RunSummary, summarize_runs


def step(outcome: str, latency: float | None = 100.0) -> StepRecord:
    return StepRecord(
        turn=1, step=1, agent="claude", tool="mcp__qms__qms_status", outcome=outcome, latency_ms=latency
    )  # type: ignore[arg-type]


def test_figures_count_sessions_calls_duplicates_and_latency() -> None:
    runs = [
        RunSummary([step("ok", 100), step("ok", 300)], True, []),
        RunSummary([step("ok", 200), step("failed", 50), step("pending", None)], False, []),
        RunSummary(
            [step("ok", 400)],
            False,
            ["duplicate execution: CHECKIN by claude is in the audit trail 2 time(s)"],
        ),
    ]
    lines = summarize_runs(runs)
    assert lines[0].startswith("sessions fully completed: 1/3 (Wilson 95% lower bound 6.1%)")
    assert lines[1].startswith("calls answered correctly: 4/5 (Wilson 95% lower bound 37.6%)")
    assert lines[1].endswith("1 not run after a failure")
    assert lines[2] == "duplicate executions: 1, lost: 0 (servers' own records)"
    assert lines[3] == "latency per call: p50 250 ms, p99 397 ms, max 400 ms over 4 calls"
