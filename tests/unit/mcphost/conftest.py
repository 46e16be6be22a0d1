"""Fixtures for agentdock.mcphost unit tests: a project root with agent definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock import paths


def write_agents(root: Path, *names: str) -> None:
    folder = paths.agents_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.md").write_text(f"---\nname: {name}\ngroup: reviewer\n---\n", encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_agents(tmp_path, "claude", "qa", "bu")
    return tmp_path
