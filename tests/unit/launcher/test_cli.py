"""The launch/stop CLI: refusals before anything is started, and environment passthrough."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock.launcher.cli import main, stop_main
from agentdock.launcher.session import passthrough_env


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
