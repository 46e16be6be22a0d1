"""Fixtures for the soak's unit tests: a factory of launch records and fake launch steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agentdock.soak.records import LaunchRecord, PathResult
from agentdock.soak.runner import LaunchPlan

MakeRecord = Callable[..., LaunchRecord]


@pytest.fixture
def make_record() -> MakeRecord:
    """Build a plausible launch record; ``proxy``/``direct`` False make that path fail."""

    def make(
        index: int = 0,
        *,
        proxy: bool | None = True,
        direct: bool | None = True,
        infra_error: str | None = None,
        seed: int = 7,
        first_ms: float = 100.0,
        evidence: dict[str, str] | None = None,
        **extra: Any,
    ) -> LaunchRecord:
        paths: dict[str, PathResult] = {}
        if infra_error is None:
            for name, ok in (("proxy", proxy), ("direct", direct)):
                if ok is None:
                    continue
                paths[name] = PathResult(
                    ok=ok,
                    failed_step=None if ok else "mcp_list",
                    error=None if ok else f"{name} server failed to connect",
                    first_response_ms=first_ms + index,
                    steps_ms={"mcp_list": 2000.0 + index, "initialize": first_ms + index},
                )
        return LaunchRecord(
            index=index,
            seed=seed,
            profile="flaky",
            started_at=1_700_000_000.0 + index,
            duration_ms=3000.0 + index,
            container_id=None if infra_error else f"c{index:04d}",
            container_start_ms=None if infra_error else 500.0 + index,
            readiness_ms=None if infra_error else 900.0 + index,
            infra_error=infra_error,
            paths=paths,
            faults={"latency_ms": 5},
            evidence=evidence or {},
            **extra,
        )

    return make


@pytest.fixture
def ok_step(make_record: MakeRecord) -> Callable[[LaunchPlan], Any]:
    """A launch step that always succeeds on both paths, echoing the plan's index and seed."""

    async def step(plan: LaunchPlan) -> LaunchRecord:
        return make_record(plan.index, seed=plan.seed)

    return step
