"""``agentdock rehearse`` without Docker: listing, usage errors, scenario errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentdock.cli import SUBCOMMANDS
from agentdock.cli import main as agentdock_main
from agentdock.rehearsal.cli import EXIT_USAGE, main, parse_args
from agentdock.rehearsal.runner import claude_argv, claude_env


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() sets up root logging on the (captured) stderr; later tests must not log into it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_list_prints_one_scenario_per_line_name_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert agentdock_main(["rehearse", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split("\t")[0] for line in lines]
    assert {"cr-lifecycle", "sop-effective", "self-approval-refused"} <= set(names)
    assert all("\t" in line and line.split("\t")[1] for line in lines)
    assert "rehearse" in SUBCOMMANDS


def test_a_scenario_file_that_does_not_parse_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nturns:\n  - agent: claude\n    steps:\n      - tool: qms_inbox\n        wait_s: lots\n"
    )
    assert main([str(bad)], environ={}) == EXIT_USAGE
    assert "turns[1].steps[1].wait_s" in capsys.readouterr().err


def test_no_scenario_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args([], {})
    assert exc.value.code == 2


def test_workdir_and_project_root_do_not_go_together(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["smoke", "--project-root", str(tmp_path), "--workdir", str(tmp_path)], {})


def test_the_image_comes_from_the_flag_then_the_environment() -> None:
    assert parse_args(["smoke"], {"AGENTDOCK_IMAGE": "mine"})[1].image == "mine"
    assert parse_args(["smoke", "--image", "x"], {"AGENTDOCK_IMAGE": "mine"})[1].image == "x"
    assert parse_args(["smoke"], {})[1].image == "claude-agent"


def test_each_turn_is_claude_p_pointed_at_the_scripted_model() -> None:
    env = claude_env("http://host.docker.internal:1234", "sk-run-key")
    assert env["ANTHROPIC_BASE_URL"] == "http://host.docker.internal:1234"
    assert env["ENABLE_TOOL_SEARCH"] == "false"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    argv = claude_argv("/usr/bin/docker", "box", "/proj", env, "Do it [rehearsal r turn 1]")
    assert argv[:4] == ["/usr/bin/docker", "exec", "-w", "/proj"]
    assert "ANTHROPIC_API_KEY=sk-run-key" in argv
    i = argv.index("box")
    assert argv[i + 1 : i + 4] == ["claude", "-p", "Do it [rehearsal r turn 1]"]
    assert "--allowedTools" in argv


def test_without_the_anthropic_sdk_scenarios_list_and_a_run_says_what_to_install(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['anthropic'] = None\n"
        "from agentdock.rehearsal.cli import main\n"
        "print('list', main(['--list'], environ={}))\n"
        "print('run', main(['smoke'], environ={}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "cr-lifecycle\t" in done.stdout
    assert "list 0" in done.stdout
    assert "run 3" in done.stdout
    assert "pip install 'agentdock[rehearsal]'" in done.stderr
