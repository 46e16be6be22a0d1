"""The soak runner: launch N times with W workers, record every launch, never lose one.

The launch itself is injected — a `LaunchStep` is an async callable that takes
a `LaunchPlan` (index, seed, drawn faults) and returns a `LaunchRecord`.  The
real step (``soak_launch``) starts an agent container and drives Claude Code
and an SDK client through it; unit tests pass fakes.  The runner:

* hands out launch indices 0..N-1 to at most W concurrent workers (bounded);
* gives each launch its own seed (`launch_seed`) and the faults its profile draws;
* bounds each launch with ``launch_timeout_s`` — a launch that overruns is
  recorded as a failure of every path it was measuring, with the seed;
* records a step that raises as an infrastructure failure with the traceback,
  so one broken launch never ends the run;
* appends every record to ``launches.jsonl`` as soon as it is known and tells
  the observer (the progress bar).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import anyio

from agentdock.soak.errors import SoakConfigError
from agentdock.soak.profiles import FaultProfile, LaunchFaults, launch_seed, profile_named
from agentdock.soak.records import PATHS, LaunchLog, LaunchRecord, PathResult, clip_evidence

__all__ = [
    "LaunchPlan",
    "LaunchStep",
    "SoakConfig",
    "SoakObserver",
    "SoakResult",
    "run_soak",
]

#: Default per-launch bound: container start, two `claude mcp list` runs and the SDK sequence.
DEFAULT_LAUNCH_TIMEOUT_S = 240.0


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """Everything a soak run was asked for, resolved once in ``main()``."""

    launches: int = 40
    workers: int = 1
    profile: str = "none"
    seed: int = 0
    report_dir: Path = Path("reports/soak")
    min_success: float | None = None
    launch_timeout_s: float = DEFAULT_LAUNCH_TIMEOUT_S
    #: replay only these launch indices of the run seeded ``seed`` (same seeds, same faults)
    replay: tuple[int, ...] = ()
    #: ``--retries`` of the in-container proxy; None: the launcher's default (what ./launch.sh uses)
    proxy_retries: int | None = None
    #: what one unit of evidence is: ``launch`` (a fresh container), ``connect`` (a fresh proxy connection
    #: inside a long-lived container); the CLI maps each mode to its environment
    mode: str = "launch"
    #: the agent image tag to build/use; None: the launcher's default tag
    image_tag: str | None = None
    #: earlier runs' report folders whose proxy-path evidence the report shows beside this run's
    beside: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.launches < 1:
            raise SoakConfigError(f"--launches must be at least 1, got {self.launches}")
        if self.replay and (min(self.replay) < 0 or len(set(self.replay)) != len(self.replay)):
            raise SoakConfigError(f"--replay takes distinct launch indices >= 0, got {list(self.replay)}")
        if self.proxy_retries is not None and not 0 <= self.proxy_retries <= 50:
            raise SoakConfigError(f"--proxy-retries must be within 0..50, got {self.proxy_retries}")
        if self.replay and len(self.replay) != self.launches:
            raise SoakConfigError("--replay decides the number of launches; leave --launches out")
        if not 1 <= self.workers <= 16:
            raise SoakConfigError(f"--workers must be within 1..16, got {self.workers}")
        if self.min_success is not None and not 0.0 <= self.min_success <= 1.0:
            raise SoakConfigError(f"--min-success is a rate within 0..1, got {self.min_success}")
        if self.launch_timeout_s <= 0:
            raise SoakConfigError(f"--launch-timeout must be positive, got {self.launch_timeout_s}")
        profile_named(self.profile)  # raises SoakConfigError for an unknown name

    @property
    def indices(self) -> tuple[int, ...]:
        """The launch indices to run: 0..launches-1, or the replayed ones."""
        return self.replay or tuple(range(self.launches))

    @property
    def fault_profile(self) -> FaultProfile:
        return profile_named(self.profile)


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """What one launch is asked to do."""

    index: int
    seed: int
    profile: str
    faults: LaunchFaults


LaunchStep = Callable[[LaunchPlan], Awaitable[LaunchRecord]]


class SoakObserver(Protocol):
    """Told about the run as it goes (the CLI's progress bar)."""

    def started(self, config: SoakConfig) -> None: ...

    def finished_launch(self, record: LaunchRecord) -> None: ...


@dataclass(frozen=True, slots=True)
class SoakResult:
    """The run: its configuration, every launch (ordered by index) and wall-clock bounds."""

    config: SoakConfig
    records: tuple[LaunchRecord, ...]
    started_at: float
    finished_at: float
    interrupted: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def duration_s(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


def plan_launch(config: SoakConfig, index: int) -> LaunchPlan:
    seed = launch_seed(config.seed, index)
    return LaunchPlan(index=index, seed=seed, profile=config.profile, faults=config.fault_profile.draw(seed))


def _timed_out_record(plan: LaunchPlan, started_at: float, timeout_s: float) -> LaunchRecord:
    message = f"launch {plan.index} (seed {plan.seed}) did not finish within {timeout_s:g} s"
    return LaunchRecord(
        index=plan.index,
        seed=plan.seed,
        profile=plan.profile,
        started_at=started_at,
        duration_ms=timeout_s * 1000.0,
        paths={path: PathResult(ok=False, failed_step="launch_timeout", error=message) for path in PATHS},
        faults=plan.faults.to_json(),
    )


def _crashed_record(
    plan: LaunchPlan, started_at: float, duration_ms: float, exc: BaseException
) -> LaunchRecord:
    text = "".join(traceback.format_exception(exc))
    return LaunchRecord(
        index=plan.index,
        seed=plan.seed,
        profile=plan.profile,
        started_at=started_at,
        duration_ms=duration_ms,
        infra_error=f"launch step raised {type(exc).__name__}: {exc}",
        faults=plan.faults.to_json(),
        evidence={"traceback": clip_evidence(text)},
    )


async def _one_launch(
    config: SoakConfig, plan: LaunchPlan, launch: LaunchStep, clock: Callable[[], float]
) -> LaunchRecord:
    started_at = clock()
    began = time.perf_counter()
    try:
        with anyio.fail_after(config.launch_timeout_s):
            return await launch(plan)
    except TimeoutError:
        return _timed_out_record(plan, started_at, config.launch_timeout_s)
    except Exception as exc:
        return _crashed_record(plan, started_at, (time.perf_counter() - began) * 1000.0, exc)


async def run_soak(
    config: SoakConfig,
    launch: LaunchStep,
    *,
    observer: SoakObserver | None = None,
    clock: Callable[[], float] = time.time,
    log_path: Path | None = None,
) -> SoakResult:
    """Run every launch of ``config`` through ``launch``; return them all, ordered by index.

    Records are appended to ``log_path`` (default ``report_dir/launches.jsonl``)
    as they finish, so an interrupted run (Ctrl-C) keeps every launch that finished;
    the CLI rebuilds its report from that file.
    """
    path = log_path or config.report_dir / "launches.jsonl"
    records: list[LaunchRecord] = []
    next_index = iter(config.indices)
    started_at = clock()
    if observer is not None:
        observer.started(config)

    with LaunchLog(path) as log:

        async def worker() -> None:
            for index in next_index:  # shared iterator: each index is taken by exactly one worker
                record = await _one_launch(config, plan_launch(config, index), launch, clock)
                records.append(record)
                log.append(record)
                if observer is not None:
                    observer.finished_launch(record)

        try:
            async with anyio.create_task_group() as group:
                for _ in range(min(config.workers, config.launches)):
                    group.start_soon(worker)
        finally:
            records.sort(key=lambda r: r.index)

    return SoakResult(
        config=config,
        records=tuple(records),
        started_at=started_at,
        finished_at=clock(),
    )
