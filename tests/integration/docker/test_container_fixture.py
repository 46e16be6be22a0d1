"""The Docker fixture layer: real engine, real container, read-only bind mounts, cleanup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker.errors
import pytest

from agentdock.launcher.engine import base_image, running_container

pytestmark = pytest.mark.docker


def test_read_only_bind_mount_refuses_writes_with_erofs_and_container_is_removed(
    docker_client: Any, tmp_path: Path
) -> None:
    (tmp_path / "controlled.md").write_text("effective text\n")
    volumes = {str(tmp_path): {"bind": "/project", "mode": "ro"}}

    with running_container(docker_client, base_image(), volumes=volumes) as container:
        container_id = container.id
        read = container.exec_run(["cat", "/project/controlled.md"])
        assert read.exit_code == 0
        assert read.output == b"effective text\n"

        write = container.exec_run(["sh", "-c", "echo tampered > /project/controlled.md"])
        assert write.exit_code != 0
        assert b"Read-only file system" in write.output

    assert (tmp_path / "controlled.md").read_text() == "effective text\n"
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_id)


def test_container_is_removed_even_when_the_body_raises(docker_client: Any) -> None:
    seen: list[str] = []
    with (
        pytest.raises(RuntimeError, match="boom"),
        running_container(docker_client, base_image()) as container,
    ):
        seen.append(container.id)
        raise RuntimeError("boom")
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(seen[0])
