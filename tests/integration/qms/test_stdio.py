"""``python -m agentdock.qms.mcp --transport stdio``: identity from --user, through the SDK's stdio client."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, get_default_environment


@pytest.mark.anyio
async def test_over_stdio_the_caller_is_the_configured_user(project: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "agentdock.qms.mcp",
            "--transport",
            "stdio",
            "--project-root",
            str(project),
            "--user",
            "qa",
        ],
        # run as root (CI), the suite lets servers keep root on its root-owned scratch projects
        env={
            **get_default_environment(),
            **{k: v for k, v in os.environ.items() if k == "AGENTDOCK_ALLOW_ROOT"},
        },
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            refused = await client.call_tool("qms_create", {"doc_type": "SOP", "title": "by qa"})
            inbox = await client.call_tool("qms_inbox", {})
    assert refused.is_error and refused.structured_content == {
        "error": "qa (quality) may not create documents: create is for administrator or initiator",
        "rule": "permission.create",
    }
    assert inbox.structured_content == {"user": "qa", "tasks": []}
