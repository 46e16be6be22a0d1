from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from rich.console import Console

from agentdock.soak.cli import MODES, environment_for, main, parse_args, run
from agentdock.soak.errors import SoakConfigError, SoakSetupError
from agentdock.soak.records import LaunchRecord, read_launches
from agentdock.soak.runner import LaunchPlan, LaunchStep, SoakConfig


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=140, force_terminal=False, color_system=None), buffer


def _environment(step):
    @asynccontextmanager
    async def environment(config: SoakConfig, say) -> AsyncIterator[LaunchStep]:
        say("fake environment ready")
        yield step

    return environment


def test_options_resolve_into_one_frozen_config(tmp_path: Path) -> None:
    argv = "--launches 20 --workers 2 --faults flaky --seed 4 --min-success 99.5% --launch-timeout 60 --proxy-retries 6"
    config = parse_args([*argv.split(), "--report", str(tmp_path)], environ={})
    assert config == SoakConfig(
        launches=20,
        workers=2,
        profile="flaky",
        seed=4,
        report_dir=tmp_path,
        min_success=0.995,
        launch_timeout_s=60,
        proxy_retries=6,
    )


def test_without_a_seed_a_random_one_is_chosen_and_printed(ok_step, tmp_path: Path) -> None:
    console, out = _console()
    config = parse_args(["--launches", "1", "--report", str(tmp_path)])
    run(config, _environment(ok_step), console)
    assert f"rerun with --seed {config.seed}" in out.getvalue()


def test_a_clean_run_writes_the_three_files_and_exits_zero(ok_step, tmp_path: Path) -> None:
    console, out = _console()
    config = SoakConfig(launches=5, workers=2, profile="flaky", seed=3, report_dir=tmp_path / "soak")
    assert run(config, _environment(ok_step), console) == 0
    report = json.loads((tmp_path / "soak" / "report.json").read_text())
    assert report["paths"]["proxy"]["successes"] == 5
    assert (tmp_path / "soak" / "report.html").read_text().startswith("<!doctype html>")
    assert len(read_launches(tmp_path / "soak" / "launches.jsonl")) == 5
    screen = out.getvalue()
    assert "PASS" in screen
    assert "baseline 40/40" in screen and "0.9124" in screen
    assert "5/5" in screen


def test_a_proxy_failure_prints_its_seed_and_exits_one(make_record, tmp_path: Path) -> None:
    async def step(plan: LaunchPlan) -> LaunchRecord:
        return make_record(plan.index, seed=plan.seed, proxy=plan.index != 1)

    console, out = _console()
    config = SoakConfig(launches=3, seed=11, report_dir=tmp_path)
    assert run(config, _environment(step), console) == 1
    screen = out.getvalue()
    assert "launch 1 (seed" in screen and "proxy@mcp_list" in screen
    assert "FAIL" in screen and "proxy path failed 1 of 3 times" in screen


def test_a_setup_failure_measures_nothing_and_exits_three(tmp_path: Path) -> None:
    @asynccontextmanager
    async def broken(config: SoakConfig, say) -> AsyncIterator[LaunchStep]:
        raise SoakSetupError("qms-mcp did not start: port in use")
        yield  # pragma: no cover

    console, out = _console()
    assert run(SoakConfig(launches=2, report_dir=tmp_path), broken, console) == 3
    assert "qms-mcp did not start: port in use" in out.getvalue()
    assert not (tmp_path / "report.json").exists()


def test_bad_options_exit_two_with_the_option_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--launches", "0"]) == 2
    assert "--launches must be at least 1" in capsys.readouterr().out
    assert main(["--faults", "chaotic"]) == 2
    assert "invalid choice: 'chaotic'" in capsys.readouterr().err


def test_replay_takes_its_launch_count_from_the_indices_and_needs_the_seed() -> None:
    config = parse_args(["--seed", "200", "--replay", "34,7"])
    assert (config.launches, config.replay, config.seed) == (2, (34, 7), 200)
    with pytest.raises(SoakConfigError, match="needs the --seed"):
        parse_args(["--replay", "34"])


def test_connect_mode_counts_trials_and_launch_stays_the_default(tmp_path: Path) -> None:
    assert parse_args(["--launches", "3"], environ={}).mode == "launch"
    config = parse_args(["--mode", "connect", "--trials", "400", "--faults", "flaky"], environ={})
    assert (config.mode, config.launches, config.profile) == ("connect", 400, "flaky")


def test_every_mode_names_an_environment_that_imports(tmp_path: Path) -> None:
    assert {"launch", "connect", "session"} <= set(MODES)
    for mode in MODES:
        assert callable(environment_for(mode))


def test_the_image_tag_comes_from_the_flag_then_the_test_image_variable_then_the_launchers_default() -> None:
    env = {"AGENTDOCK_TEST_IMAGE": "claude-agent-mine"}
    assert parse_args(["--image", "x"], environ=env).image_tag == "x"
    assert parse_args([], environ=env).image_tag == "claude-agent-mine"
    assert parse_args([], environ={}).image_tag is None


def test_a_connect_run_shows_its_trials_beside_an_earlier_launch_run_and_the_baseline(
    ok_step, tmp_path: Path
) -> None:
    console, out = _console()
    launches = SoakConfig(launches=3, profile="flaky", seed=1, report_dir=tmp_path / "launch")
    assert run(launches, _environment(ok_step), console) == 0
    trials = SoakConfig(
        launches=8, profile="flaky", seed=2, report_dir=tmp_path / "connect", mode="connect",
        beside=(tmp_path / "launch",),
    )  # fmt: skip
    assert run(trials, _environment(ok_step), console) == 0
    report = json.loads((tmp_path / "connect" / "report.json").read_text())
    assert report["run"]["mode"] == "connect"
    rows = [(r["kind"], r["successes"], r["trials"]) for r in report["evidence"]]
    assert rows == [("connection trials", 8, 8), ("container launches", 3, 3)]
    text = out.getvalue()
    assert "evidence side by side" in text and "8/8 trials in" in text and "40/40" in text


def test_a_beside_folder_without_a_report_is_named_and_left_out(ok_step, tmp_path: Path) -> None:
    console, out = _console()
    config = SoakConfig(launches=2, seed=1, report_dir=tmp_path / "r", beside=(tmp_path / "missing",))
    assert run(config, _environment(ok_step), console) == 0
    assert "--beside ignored" in out.getvalue()
    assert len(json.loads((tmp_path / "r" / "report.json").read_text())["evidence"]) == 1


def test_a_session_run_counts_sessions() -> None:
    config = parse_args(["--mode", "session", "--sessions", "100", "--workers", "2"], environ={})
    assert (config.mode, config.launches, config.workers) == ("session", 100, 2)


def test_a_session_trial_gets_room_for_two_sessions_unless_told_otherwise() -> None:
    from agentdock.soak.cli import SESSION_TRIAL_TIMEOUT_S
    from agentdock.soak.runner import DEFAULT_LAUNCH_TIMEOUT_S

    assert parse_args(["--mode", "session"], environ={}).launch_timeout_s == SESSION_TRIAL_TIMEOUT_S
    assert parse_args([], environ={}).launch_timeout_s == DEFAULT_LAUNCH_TIMEOUT_S
    assert parse_args(["--mode", "session", "--launch-timeout", "30"], environ={}).launch_timeout_s == 30
    with pytest.raises(SoakConfigError):
        parse_args(["--launch-timeout", "0"], environ={})
