"""Fixtures for the launcher's unit tests: a project root on disk (no Docker, no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock import paths


def make_project(root: Path, agents: tuple[str, ...] = paths.DEFAULT_AGENTS) -> Path:
    paths.qms_dir(root).mkdir(parents=True)
    paths.agents_dir(root).mkdir(parents=True)
    for agent in agents:
        (paths.agents_dir(root) / f"{agent}.md").write_text(f"---\nname: {agent}\n---\n# You are {agent}\n")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "demo-proj")
