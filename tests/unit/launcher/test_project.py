"""Which project root and which agents a launch uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock.launcher.errors import ConfigError
from agentdock.launcher.project import (
    agent_names,
    container_project_dir,
    default_data_dir,
    resolve_project_root,
    validate_agent,
)


def _never(_: Path) -> None:
    raise AssertionError("qms init must not run")


def test_current_directory_with_a_qms_is_the_project(project: Path, tmp_path: Path) -> None:
    assert (
        resolve_project_root(None, cwd=project, data_dir=tmp_path / "data", init=_never) == project.resolve()
    )


def test_without_a_qms_the_demo_project_is_initialised_once_under_the_data_folder(tmp_path: Path) -> None:
    calls: list[Path] = []

    def init(root: Path) -> None:
        calls.append(root)
        (root / "QMS").mkdir(parents=True)

    plain = tmp_path / "plain"
    plain.mkdir()
    first = resolve_project_root(None, cwd=plain, data_dir=tmp_path / "data", init=init)
    second = resolve_project_root(None, cwd=plain, data_dir=tmp_path / "data", init=init)
    assert first == second == (tmp_path / "data" / "demo").resolve()
    assert calls == [first]


def test_explicit_project_root_without_qms_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="qms init --root"):
        resolve_project_root(tmp_path, cwd=tmp_path, data_dir=tmp_path, init=_never)
    with pytest.raises(ConfigError, match="not a directory"):
        resolve_project_root(tmp_path / "missing", cwd=tmp_path, data_dir=tmp_path, init=_never)


def test_agents_come_from_the_definitions_in_canonical_order(project: Path) -> None:
    assert agent_names(project) == ["claude", "qa", "tu_ui", "tu_scene", "tu_sketch", "tu_sim", "bu"]
    assert validate_agent(project, "tu_sim") == "tu_sim"


def test_unknown_agent_is_refused_with_the_list_of_valid_agents(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        validate_agent(project, "mallory")
    assert "claude, qa, tu_ui, tu_scene, tu_sketch, tu_sim, bu" in str(info.value)


def test_project_folder_name_inside_the_container_is_safe(tmp_path: Path) -> None:
    assert container_project_dir(tmp_path / "my repo") == "/my-repo"
    assert container_project_dir(tmp_path / "usr") == "/project-usr"


def test_data_folder_follows_the_environment(tmp_path: Path) -> None:
    assert default_data_dir({"AGENTDOCK_DATA_DIR": str(tmp_path)}) == tmp_path
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "agentdock"
