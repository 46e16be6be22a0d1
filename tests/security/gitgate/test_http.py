"""The same defences over the real transport: git-mcp as a subprocess, identity from the bearer token."""

from __future__ import annotations

import os
import sys

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentdock.gitgate.process import git_server_process
from agentdock.gitgate.server import TOOL_NAME
from agentdock.mcphost import TokenStore

from .conftest import World, snapshot


def _zones(world: World) -> dict[str, str]:
    """The snapshot without the server's own records (audit log, idempotency) under .agentdock/."""
    own = (".agentdock/run", ".agentdock/idempotency")
    return {k: v for k, v in snapshot(world).items() if not k.startswith(own)}


async def _call(url: str, token: str, command: str):  # type: ignore[no-untyped-def]
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(60.0))
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        return await client.call_tool(TOOL_NAME, {"command": command})


@pytest.mark.anyio
async def test_over_http_the_token_decides_whose_workspace_is_writable_and_attacks_change_nothing(
    world: World,
) -> None:
    store = TokenStore(world.root)
    tokens = {agent: store.ensure(agent) for agent in ("claude", "qa")}
    (world.workspace / "note.md").write_text("claude's note\n")
    os.symlink("../../../../.git", world.workspace / "g")
    env = {**world.repo.env, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with git_server_process(world.root, env=env) as server:
        before = _zones(world)
        attacks = {
            "add -f .claude/users/claude/workspace/note.md": "protected-path",  # qa: claude's folder
            "mv .claude/users/qa/workspace/work.txt .claude/users/claude/workspace/g/config": "protected-path",
            "shortlog --output=.git/config HEAD": "unknown-option",
            "blame --output=x README.md": "unknown-option",
            "symbolic-ref refs/heads/main refs/heads/feature": "ref-rewrite",
            "stash drop": "stash-destructive",
        }
        for command, rule in attacks.items():
            result = await _call(server.url, tokens["qa"], command)
            assert result.is_error, command
            assert result.structured_content is not None
            assert result.structured_content["refused"]["rule"] == rule, (command, result.structured_content)
        assert _zones(world) == before
        own = await _call(server.url, tokens["claude"], "add -f .claude/users/claude/workspace/note.md")
        assert not own.is_error, own.content
    assert ".claude/users/claude/workspace/note.md" in world.repo.git("diff", "--cached", "--name-only")
