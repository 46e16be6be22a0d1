"""The agent image, as the launcher tests get it (``AGENTDOCK_TEST_IMAGE``, else claude-agent)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from agentdock.launcher import ImageSpec, agentdock_checkout, container_ids, ensure_image


@pytest.fixture(scope="session")
def agent_image(docker_client: Any) -> str:
    uid, gid = container_ids()
    tag = os.environ.get("AGENTDOCK_TEST_IMAGE", "claude-agent")
    result = ensure_image(docker_client, ImageSpec(repo=agentdock_checkout(), tag=tag, uid=uid, gid=gid))
    return result.tag
