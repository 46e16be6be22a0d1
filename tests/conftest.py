"""Shared pytest configuration: the anyio backend and the Docker fixture layer."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from agentdock.launcher.engine import DockerUnavailable, docker_engine, in_ci

# Property tests (hypothesis): each test bounds its own example count; under CI=true the examples
# are derandomized (the same on every run, so a red CI run replays locally with CI=true) and no
# example database is written into the checkout.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if in_ci() else "dev")


def pytest_configure(config: pytest.Config) -> None:
    """Run as root (CI, root-only dev boxes), the suite's scratch projects belong to root too, and
    qms-mcp/git-mcp refuse to run as root on a root-owned project (they drop to the project's owner,
    and there is none): let them, for this run only.  tests/security/test_server_privileges.py
    starts its servers with AGENTDOCK_ALLOW_ROOT=0."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("AGENTDOCK_ALLOW_ROOT", "1")


@pytest.fixture(scope="session", autouse=True)
def agentdock_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """agentdock's per-user data folder (tokens, overlays, Claude logins) for the whole run.

    Set once for the session in the process environment, so every server, launcher and
    CLI subprocess the tests start agrees on it, and nothing lands in the real
    ``~/.local/share/agentdock``.  Each project gets its own sub-folder (keyed by its root).
    """
    previous = os.environ.get("AGENTDOCK_DATA_DIR")
    folder = tmp_path_factory.mktemp("agentdock-data")
    os.environ["AGENTDOCK_DATA_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("AGENTDOCK_DATA_DIR", None)
    else:
        os.environ["AGENTDOCK_DATA_DIR"] = previous


@pytest.fixture
def warm_probe_env() -> Callable[..., dict[str, str]]:
    """``warm_probe_env(**extra)``: this environment, with tests/support (``warm_probe``) on PYTHONPATH."""
    support = str(Path(__file__).resolve().parent / "support")

    def make(**extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (support, env.get("PYTHONPATH")) if p)
        env.update(extra)
        return env

    return make


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A docker SDK client for a real engine.

    Outside CI, tests that use it skip with the reason when no engine answers;
    with ``CI=true`` a missing engine fails them — never a silent skip.
    """
    try:
        with docker_engine() as client:
            yield client
    except DockerUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI=true but no Docker engine answers: {exc}", pytrace=False)
        pytest.skip(f"no Docker engine answers ({exc}); start dockerd or see README 'Docker'")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test marked ``docker`` gets the engine check, even if it never names the fixture."""
    for item in items:
        if item.get_closest_marker("docker") is not None and "docker_client" not in getattr(
            item, "fixturenames", ()
        ):
            item.fixturenames.insert(0, "docker_client")  # type: ignore[attr-defined]
