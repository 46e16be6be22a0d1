"""A real scratch repository (submodule + bare remote), shared by the module's policy tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentdock.gitgate.executor import build_env
from agentdock.gitgate.facts import RepoFacts, load_facts
from agentdock.gitgate.scratch import ScratchRepo, scratch_repository


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchRepo]:
    with scratch_repository(tmp_path_factory.mktemp("gitgate")) as repo:
        yield repo


@pytest.fixture(scope="module")
def facts(scratch: ScratchRepo) -> RepoFacts:
    return load_facts(scratch.root, build_env(scratch.env, scratch.root), caller="claude")
