"""What a rehearsal records: every request the scripted model answered, and every step's outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Outcome", "RequestRecord", "StepRecord", "TurnRecord"]

Outcome = Literal["pending", "issued", "ok", "failed"]


@dataclass
class StepRecord:
    """One scripted step: issued as a ``tool_use``, then judged on the ``tool_result`` that came back."""

    turn: int
    step: int
    agent: str
    tool: str
    outcome: Outcome = "pending"
    tool_use_id: str | None = None
    input: dict[str, Any] | None = None
    issued_at: float | None = None
    latency_ms: float | None = None  # tool_use sent -> tool_result received (Claude Code + MCP + server)
    is_error: bool | None = None
    result: str | None = None
    problems: list[str] = field(default_factory=list)
    fault: str | None = None  # the fault done just before this call (see scenario.FAULTS)
    fault_ms: float | None = None
    reissued: int = 0  # the same request came again (a client retry): answered the same, not re-counted

    def fail(self, problem: str) -> None:
        self.outcome = "failed"
        self.problems.append(problem)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TurnRecord:
    turn: int
    agent: str
    exit_code: int | None = None
    started_at: float | None = None  # wall clock (time.time()), comparable with RequestRecord.at
    duration_ms: float | None = None
    finished: bool = False  # the model sent the turn's closing text
    output: str = ""
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request to the scripted model."""

    number: int
    at: float
    method: str
    path: str
    agent: str | None
    kind: str  # "step", "final", "side", "other", "refused"
    turn: int | None = None
    step: int | None = None
    model: str | None = None
    tools: int = 0
    stream: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
