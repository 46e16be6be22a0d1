"""The launch/stop CLI: refusals before anything is started, and environment passthrough."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentdock.launcher.cli import _launch_parser, main, multi_options, stop_main
from agentdock.launcher.hardening import limits_from
from agentdock.launcher.session import Servers, passthrough_env
from agentdock.launcher.windows.multi import MultiLaunchOptions, agent_command


def test_unknown_agent_is_refused_with_the_list_before_docker_is_touched(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["mallory", "--project-root", str(project)], environ={"DOCKER_HOST": "unix:///nonexistent"})
    err = capsys.readouterr().err
    assert code == 1
    assert "unknown agent 'mallory'; valid agents: claude, qa, tu_ui, tu_scene, tu_sketch, tu_sim, bu" in err
    assert "Checking Docker" not in err


def test_stop_with_nothing_running_says_so(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert stop_main(["--project-root", str(project)], environ={}) == 0
    assert "nothing" in capsys.readouterr().err


def test_gh_token_comes_from_the_environment_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nGH_TOKEN='from-file'\nOTHER=x\nANTHROPIC_API_KEY=\n")
    assert passthrough_env(env_file, {}) == {"GH_TOKEN": "from-file"}
    assert passthrough_env(env_file, {"GH_TOKEN": "from-env", "SECRET": "no"}) == {"GH_TOKEN": "from-env"}
    assert passthrough_env(tmp_path / "missing", {}) == {}


NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent"}


def test_every_unknown_agent_of_several_is_refused_with_the_list_before_docker_is_touched(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["claude", "mallory", "qa", "eve", "--tmux", "--project-root", str(project)], environ=NO_DOCKER
    )
    err = capsys.readouterr().err
    assert code == 1
    assert (
        "unknown agents 'mallory', 'eve'; valid agents: claude, qa, tu_ui, tu_scene, tu_sketch, tu_sim, bu"
        in err
    )
    assert "Checking Docker" not in err


def test_an_agent_named_twice_is_refused_before_docker_is_touched(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["qa", "claude", "qa", "--tmux", "--project-root", str(project)], environ=NO_DOCKER)
    err = capsys.readouterr().err
    assert code == 1
    assert "each agent may be launched once; repeated: qa" in err
    assert "Checking Docker" not in err


def test_a_terminal_that_is_not_installed_is_refused_before_docker_is_touched(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("konsole") is not None:
        pytest.skip("konsole is installed here; the refusal needs a terminal that is not")
    code = main(["claude", "qa", "--terminal", "konsole", "--project-root", str(project)], environ=NO_DOCKER)
    err = capsys.readouterr().err
    assert code == 1
    assert "terminal 'konsole' needs 'konsole', which is not on PATH" in err
    assert "Resolving the project" not in err and "Checking Docker" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["qa", "--tmux"], "--tmux, --terminal and --session open several agents at once"),
        (["--session", "s"], "--tmux, --terminal and --session open several agents at once"),
        (["claude", "qa", "--no-attach"], "--no-attach starts one agent"),
        (["qa", "--memory", "lots"], "memory limit 'lots' is not a size like 2g"),
        (["qa", "--memory", "1m"], "below Docker's minimum of 6m"),
        (["qa", "--pids-limit", "4"], "pids limit 4 is too low"),
        (["qa", "--cpus", "nan"], "cpus 'nan' must be at least 0.01"),
        (["qa", "--print-compose", "--no-attach"], "--print-compose starts nothing"),
        (["qa", "bu", "--print-compose", "--shell"], "--print-compose starts nothing"),
        (["qa", "--print-compose", "--", "-p", "hi"], "--print-compose starts nothing"),
    ],
)
def test_options_that_do_not_fit_the_number_of_agents_are_refused(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main([*argv, "--project-root", str(project)], environ=NO_DOCKER) == 2
    assert message in capsys.readouterr().err


def test_several_agents_open_windows_that_get_the_launch_options_but_not_rebuild_or_no_attach(
    tmp_path: Path,
) -> None:
    argv = ["claude", "--shell", "qa", "--qms-port", "9100", "--git-port", "9101", "--rebuild",
            "--image", "agent:test", "tu_ui", "--tmux", "--session", "review", "--ready-timeout", "5",
            "--memory", "1536m", "--network-policy", "strict"]  # fmt: skip
    args = _launch_parser({}).parse_intermixed_args(argv)
    assert args.agent == ["claude", "qa", "tu_ui"]
    limits = limits_from(args.memory, args.pids_limit, args.cpus, {"AGENTDOCK_CPUS": "0.5"})
    options = multi_options(
        args, tmp_path, Servers(9100, 9101), tmp_path / "projects", ("--model", "x"), limits=limits
    )
    forwarded = ("--shell", "--qms-port", "9100", "--git-port", "9101", "--image", "agent:test",
                 "--projects", str(tmp_path / "projects"), "--memory", "1536m", "--pids-limit", "512",
                 "--cpus", "0.5", "--network-policy", "strict", "--", "--model", "x")  # fmt: skip
    assert options == MultiLaunchOptions(
        project_root=tmp_path,
        passthrough=forwarded,
        tmux=True,
        terminal=None,
        session="review",
    )
    # what each window runs: this agent, the resolved project, the forwarded options
    assert agent_command(("./launch.sh",), "qa", options) == (
        "./launch.sh", "qa", "--project-root", str(tmp_path), *options.passthrough,
    )  # fmt: skip


def test_no_agent_means_claude_and_the_default_projects_volume_is_forwarded_by_name(tmp_path: Path) -> None:
    args = _launch_parser({}).parse_intermixed_args(["--terminal", "xterm"])
    assert args.agent == []
    options = multi_options(args, tmp_path, Servers(8000, 8001), "agentdock-projects", ())
    assert options.passthrough == ("--qms-port", "8000", "--git-port", "8001", "--image", "claude-agent",
                                   "--projects", "agentdock-projects", "--memory", "2g",
                                   "--pids-limit", "512", "--cpus", "2", "--network-policy", "open")  # fmt: skip
    assert options.terminal == "xterm" and not options.tmux


def test_windows_of_a_project_without_git_get_its_ports_and_no_git(tmp_path: Path) -> None:
    args = _launch_parser({}).parse_intermixed_args(["claude", "qa", "--no-host-certs"])
    options = multi_options(args, tmp_path, Servers(8002, None), "agentdock-projects", ())
    assert options.passthrough == ("--qms-port", "8002", "--no-git", "--image", "claude-agent",
                                   "--projects", "agentdock-projects", "--memory", "2g", "--pids-limit", "512",
                                   "--cpus", "2", "--network-policy", "open", "--no-host-certs")  # fmt: skip


def test_ports_default_to_the_project_s_own_and_flags_or_env_win() -> None:
    assert _launch_parser({}).parse_intermixed_args([]).qms_port is None
    env = {"AGENTDOCK_QMS_PORT": "9200", "AGENTDOCK_GIT_PORT": "9201"}
    args = _launch_parser(env).parse_intermixed_args(["--git-port", "9301"])
    assert (args.qms_port, args.git_port) == (9200, 9301)


def test_stop_outside_any_project_lists_and_says_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert stop_main([], environ={"AGENTDOCK_DATA_DIR": str(tmp_path / "data")}) == 0
    assert "Nothing is running" in capsys.readouterr().err
