"""Several runs of one scenario (``agentdock rehearse NAME --repeat N``): per-call and per-session figures.

The unit of a session soak: each run is a whole rehearsal (fresh project,
containers, servers); with a scenario that injects faults mid-session
(``restart-mid-session``) the figures say how often a call, and a whole
session, came through — with Wilson 95 % bounds, since "5/5" alone proves
little — plus per-call latency and duplicate executions from the servers' own
records.  Statistics come from :mod:`agentdock.soak.stats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentdock.rehearsal.records import StepRecord
from agentdock.soak.stats import summarize_latencies, wilson_interval

__all__ = ["RunSummary", "summarize_runs"]


@dataclass(frozen=True)
class RunSummary:
    """What one run contributes: its steps, whether it passed, its duplicate/lost executions."""

    steps: Sequence[StepRecord]
    passed: bool
    audit: Sequence[str]


def summarize_runs(runs: Sequence[RunSummary]) -> list[str]:
    """The lines printed after a repeated rehearsal."""
    sessions = len(runs)
    passed = sum(run.passed for run in runs)
    ran = [step for run in runs for step in run.steps if step.outcome != "pending"]
    calls_ok = sum(step.outcome == "ok" for step in ran)
    not_run = sum(step.outcome == "pending" for run in runs for step in run.steps)
    duplicates = sum(line.startswith("duplicate") for run in runs for line in run.audit)
    lost = sum(line.startswith("lost") for run in runs for line in run.audit)
    session_ci = wilson_interval(passed, sessions)
    call_ci = wilson_interval(calls_ok, len(ran))
    latency = summarize_latencies(step.latency_ms for step in ran if step.outcome == "ok")

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    return [
        f"sessions fully completed: {passed}/{sessions} (Wilson 95% lower bound {session_ci.lower:.1%})",
        f"calls answered correctly: {calls_ok}/{len(ran)} (Wilson 95% lower bound {call_ci.lower:.1%})"
        + (f", {not_run} not run after a failure" if not_run else ""),
        f"duplicate executions: {duplicates}, lost: {lost} (servers' own records)",
        f"latency per call: p50 {ms(latency.p50)}, p99 {ms(latency.p99)}, max {ms(latency.max)} "
        f"over {latency.count} calls",
    ]
