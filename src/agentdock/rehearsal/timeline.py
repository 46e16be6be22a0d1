"""The timeline a rehearsal prints: one row per step (agent, step, tool, outcome, latency), then a summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from agentdock.rehearsal.records import RequestRecord, StepRecord, TurnRecord

__all__ = ["HEADER", "short_tool", "step_rows", "summary"]

HEADER = f"{'turn':>4}  {'agent':<10} {'step':>4}  {'tool':<16} {'outcome':<8} {'latency':>9}"


def short_tool(name: str) -> str:
    """``mcp__qms__qms_create`` -> ``qms_create``."""
    return name.split("__", 2)[-1] if name.startswith("mcp__") else name


def step_rows(steps: Iterable[StepRecord]) -> list[str]:
    rows = []
    for record in steps:
        latency = f"{record.latency_ms:.0f} ms" if record.latency_ms is not None else "-"
        outcome = {"issued": "no-result", "pending": "not-run"}.get(record.outcome, record.outcome)
        if record.outcome == "ok" and record.is_error:
            outcome = "refused"  # a refusal the step expected
        rows.append(
            f"{record.turn:>4}  {record.agent:<10} {record.step:>4}  {short_tool(record.tool):<16} "
            f"{outcome:<8} {latency:>9}"
        )
        if record.fault:
            rows[-1] += f"   after {record.fault} ({record.fault_ms:.0f} ms)"
        rows += [f"{'':>6}! {problem}" for problem in record.problems]
    return rows


def summary(
    steps: Sequence[StepRecord], turns: Sequence[TurnRecord], requests: Sequence[RequestRecord]
) -> list[str]:
    outcomes = Counter(r.outcome for r in steps)
    kinds = Counter(r.kind for r in requests)
    ok = outcomes["ok"]
    lines = [
        f"steps: {ok}/{len(steps)} held"
        + "".join(f", {n} {k}" for k, n in sorted(outcomes.items()) if k != "ok"),
        "model requests: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
    ]
    others = Counter(f"{r.method} {r.path}" for r in requests if r.kind in {"other", "refused"})
    if others:
        lines.append("other endpoints: " + ", ".join(f"{k} x{n}" for k, n in sorted(others.items())))
    for turn in turns:
        for problem in turn.problems:
            lines.append(f"turn {turn.turn} ({turn.agent}): {problem}")
    return lines
