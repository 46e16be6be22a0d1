"""What `rehearse` refuses before it touches Docker."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from agentdock.rehearsal.errors import RehearsalSetupError
from agentdock.rehearsal.runner import RehearsalOptions, rehearse
from agentdock.rehearsal.scenario import shipped_scenarios


def test_a_pushing_scenario_is_refused_on_a_users_project_without_allow_push(tmp_path: Path) -> None:
    (tmp_path / "QMS").mkdir()
    scenario = shipped_scenarios()["cr-lifecycle"]
    assert scenario.git_remote
    with pytest.raises(RehearsalSetupError, match=r"pushes to a remote.*--allow-push"):
        anyio.run(rehearse, scenario, RehearsalOptions(project_root=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["QMS"]  # nothing was set up


def test_a_project_root_without_a_qms_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RehearsalSetupError, match="has no QMS/ folder"):
        anyio.run(rehearse, shipped_scenarios()["smoke"], RehearsalOptions(project_root=tmp_path))


def test_a_scenario_with_faults_is_refused_on_a_users_project(tmp_path: Path) -> None:
    (tmp_path / "QMS").mkdir()
    with pytest.raises(RehearsalSetupError, match="throw-away project only"):
        anyio.run(
            rehearse, shipped_scenarios()["restart-mid-session"], RehearsalOptions(project_root=tmp_path)
        )
