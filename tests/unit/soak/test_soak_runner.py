from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from agentdock.soak.errors import SoakConfigError
from agentdock.soak.profiles import launch_seed, profile_named
from agentdock.soak.records import LaunchRecord, read_launches
from agentdock.soak.runner import LaunchPlan, SoakConfig, run_soak

pytestmark = pytest.mark.anyio


class Recorder:
    """Remembers what each launch saw and how many launches were in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.plans: list[LaunchPlan] = []


async def test_every_launch_runs_exactly_once_and_records_come_back_in_index_order(
    make_record, tmp_path: Path
) -> None:
    seen = Recorder()

    async def step(plan: LaunchPlan) -> LaunchRecord:
        seen.plans.append(plan)
        seen.in_flight += 1
        seen.most_in_flight = max(seen.most_in_flight, seen.in_flight)
        await anyio.sleep(0)  # yield so the other worker interleaves
        await anyio.sleep(0)
        seen.in_flight -= 1
        return make_record(plan.index, seed=plan.seed)

    config = SoakConfig(launches=9, workers=2, profile="flaky", seed=5, report_dir=tmp_path)
    result = await run_soak(config, step)

    assert sorted(p.index for p in seen.plans) == list(range(9))
    assert [r.index for r in result.records] == list(range(9))
    assert seen.most_in_flight == 2
    assert sorted(r.index for r in read_launches(tmp_path / "launches.jsonl")) == list(range(9))


async def test_one_worker_never_runs_two_launches_at_once(make_record, tmp_path: Path) -> None:
    seen = Recorder()

    async def step(plan: LaunchPlan) -> LaunchRecord:
        seen.in_flight += 1
        seen.most_in_flight = max(seen.most_in_flight, seen.in_flight)
        await anyio.sleep(0)
        seen.in_flight -= 1
        return make_record(plan.index)

    await run_soak(SoakConfig(launches=4, workers=1, report_dir=tmp_path), step)
    assert seen.most_in_flight == 1


async def test_each_launch_gets_its_own_seed_and_the_faults_its_profile_draws_from_it(
    ok_step, tmp_path: Path
) -> None:
    plans: list[LaunchPlan] = []

    async def step(plan: LaunchPlan) -> LaunchRecord:
        plans.append(plan)
        return await ok_step(plan)

    await run_soak(SoakConfig(launches=5, profile="hostile", seed=99, report_dir=tmp_path), step)
    for plan in plans:
        assert plan.seed == launch_seed(99, plan.index)
        assert plan.faults == profile_named("hostile").draw(plan.seed)
        assert plan.profile == "hostile"


async def test_a_launch_that_overruns_its_bound_fails_every_path_and_the_run_goes_on(
    make_record, tmp_path: Path
) -> None:
    never = anyio.Event()

    async def step(plan: LaunchPlan) -> LaunchRecord:
        if plan.index == 1:
            await never.wait()
        return make_record(plan.index, seed=plan.seed)

    config = SoakConfig(launches=3, report_dir=tmp_path, launch_timeout_s=0.05, seed=1)
    result = await run_soak(config, step)

    hung = result.records[1]
    assert not hung.ok
    assert {p: r.failed_step for p, r in hung.paths.items()} == {
        "proxy": "launch_timeout",
        "direct": "launch_timeout",
    }
    assert f"seed {launch_seed(1, 1)}" in (hung.paths["proxy"].error or "")
    assert result.records[0].ok and result.records[2].ok


async def test_a_step_that_raises_is_an_infrastructure_failure_with_its_traceback(
    make_record, tmp_path: Path
) -> None:
    async def step(plan: LaunchPlan) -> LaunchRecord:
        if plan.index == 0:
            raise RuntimeError("docker went away")
        return make_record(plan.index)

    result = await run_soak(SoakConfig(launches=2, report_dir=tmp_path), step)
    crashed = result.records[0]
    assert crashed.infra_error == "launch step raised RuntimeError: docker went away"
    assert "RuntimeError: docker went away" in crashed.evidence["traceback"]
    assert result.records[1].ok


async def test_the_observer_hears_the_start_and_every_finished_launch(ok_step, tmp_path: Path) -> None:
    events: list[str] = []

    class Observer:
        def started(self, config: SoakConfig) -> None:
            events.append(f"start {config.launches}")

        def finished_launch(self, record: LaunchRecord) -> None:
            events.append(f"done {record.index}")

    await run_soak(SoakConfig(launches=3, report_dir=tmp_path), ok_step, observer=Observer())
    assert events == ["start 3", "done 0", "done 1", "done 2"]


async def test_launches_that_finished_are_on_disk_when_the_run_is_cancelled(
    make_record, tmp_path: Path
) -> None:
    third_started = anyio.Event()

    async def step(plan: LaunchPlan) -> LaunchRecord:
        if plan.index == 2:
            third_started.set()
            await anyio.Event().wait()
        return make_record(plan.index)

    async with anyio.create_task_group() as group:
        group.start_soon(run_soak, SoakConfig(launches=5, report_dir=tmp_path), step)
        with anyio.fail_after(5):
            await third_started.wait()
        group.cancel_scope.cancel()
    assert [r.index for r in read_launches(tmp_path / "launches.jsonl")] == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"launches": 0}, "--launches"),
        ({"workers": 0}, "--workers"),
        ({"min_success": 1.5}, "--min-success"),
        ({"launch_timeout_s": 0}, "--launch-timeout"),
        ({"profile": "chaotic"}, "unknown fault profile"),
    ],
)
def test_bad_configuration_is_refused_with_the_option_named(kwargs, message: str) -> None:
    with pytest.raises(SoakConfigError, match=message):
        SoakConfig(**kwargs)


async def test_replay_reruns_only_the_named_launches_with_their_original_seeds_and_faults(
    ok_step, tmp_path: Path
) -> None:
    plans: list[LaunchPlan] = []

    async def step(plan: LaunchPlan) -> LaunchRecord:
        plans.append(plan)
        return await ok_step(plan)

    config = SoakConfig(launches=2, profile="flaky", seed=200, report_dir=tmp_path, replay=(34, 7))
    result = await run_soak(config, step)
    assert sorted(p.index for p in plans) == [7, 34]
    assert {p.index: p.seed for p in plans} == {7: launch_seed(200, 7), 34: launch_seed(200, 34)}
    assert all(p.faults == profile_named("flaky").draw(p.seed) for p in plans)
    assert [r.index for r in result.records] == [7, 34]


def test_replay_refuses_repeated_or_negative_indices() -> None:
    with pytest.raises(SoakConfigError, match="distinct launch indices"):
        SoakConfig(launches=2, replay=(3, 3))
    with pytest.raises(SoakConfigError, match="distinct launch indices"):
        SoakConfig(launches=1, replay=(-1,))


async def test_a_step_pool_gives_each_concurrent_launch_its_own_worker_environment(tmp_path: Path) -> None:
    """Per-worker environments: two launches at once never run on the same step (its servers)."""
    from agentdock.soak.launch import StepPool
    from agentdock.soak.records import PathResult

    busy: set[int] = set()
    used: list[tuple[int, int]] = []

    def step_for(worker: int):
        async def step(plan: LaunchPlan) -> LaunchRecord:
            assert worker not in busy, "a worker's environment was lent twice at once"
            busy.add(worker)
            await anyio.sleep(0.01)
            busy.discard(worker)
            used.append((plan.index, worker))
            return LaunchRecord(
                index=plan.index, seed=plan.seed, profile=plan.profile, started_at=0.0, duration_ms=1.0,
                paths={"proxy": PathResult(ok=True)},
            )  # fmt: skip

        return step

    config = SoakConfig(launches=12, workers=3, report_dir=tmp_path)
    result = await run_soak(config, StepPool([step_for(w) for w in range(3)]))
    assert [r.index for r in result.records] == list(range(12))
    assert {worker for _, worker in used} == {0, 1, 2}
