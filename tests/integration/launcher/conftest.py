"""Fixtures for launcher integration tests: the real agent image, a real QMS project, real servers."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentdock.launcher import (
    ImageSpec,
    agentdock_checkout,
    container_ids,
    ensure_image,
    existing_containers,
    remove_container,
)
from agentdock.launcher.project import init_demo_project


@pytest.fixture(scope="session")
def agent_image(docker_client: Any) -> str:
    """The agent image as ./launch.sh builds it (rebuilt only when its inputs changed)."""
    uid, gid = container_ids()
    tag = os.environ.get("AGENTDOCK_TEST_IMAGE", "claude-agent")
    result = ensure_image(docker_client, ImageSpec(repo=agentdock_checkout(), tag=tag, uid=uid, gid=gid))
    print(f"\nagent image {result.tag}: {result.size_bytes / 1e6:.0f} MB ({result.reason})")
    return result.tag


@pytest.fixture
def qms_project(tmp_path: Path, docker_client: Any) -> Iterator[Path]:
    """A project made by the real `qms init`; its agent containers are removed afterwards."""
    root = tmp_path / "acme"
    init_demo_project(root)
    yield root
    for container in existing_containers(docker_client, root):
        remove_container(container)


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A function returning a port that was free on 127.0.0.1 a moment ago (servers bind it next)."""

    given: set[int] = set()

    def pick() -> int:
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in given:
                given.add(port)
                return port

    return pick
