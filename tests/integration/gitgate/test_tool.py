"""The git_exec tool through the SDK client, in process (identity from the stdio user)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from agentdock.gitgate.executor import build_env
from agentdock.gitgate.gateway import GateConfig, GitGateway
from agentdock.gitgate.scratch import ScratchRepo
from agentdock.gitgate.server import TOOL_NAME, build_server


def _server(repo: ScratchRepo, audit: Path, user: str = "claude"):  # type: ignore[no-untyped-def]
    config = GateConfig(root=repo.root, env=build_env(repo.env, repo.root), audit_file=audit)
    return build_server(GitGateway(config), stdio_user=user)


@pytest.mark.anyio
async def test_an_allowed_command_returns_each_steps_exit_code_and_output(
    scratch: ScratchRepo, tmp_path: Path
) -> None:
    async with Client(_server(scratch, tmp_path / "a.jsonl")) as client:
        result = await client.call_tool(
            TOOL_NAME, {"command": "git rev-parse --abbrev-ref HEAD && log -1 --format=%s"}
        )
    assert not result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "$ git rev-parse --abbrev-ref HEAD" in text and "[step 1/2: exit 0]" in text
    assert result.structured_content is not None
    assert [s["exit_code"] for s in result.structured_content["steps"]] == [0, 0]


@pytest.mark.anyio
async def test_a_refused_command_is_an_error_result_naming_the_rule(
    scratch: ScratchRepo, tmp_path: Path
) -> None:
    audit = tmp_path / "a.jsonl"
    async with Client(_server(scratch, audit, user="qa")) as client:
        result = await client.call_tool(TOOL_NAME, {"command": "push --forc origin main"})
    assert result.is_error
    assert result.content[0].text.startswith("refused [force-push]")  # type: ignore[union-attr]
    assert result.structured_content is not None
    assert result.structured_content["refused"]["rule"] == "force-push"
    record = json.loads(audit.read_text().splitlines()[-1])
    assert (
        record["agent"] == "qa"
        and record["rule"] == "force-push"
        and record["command"] == "push --forc origin main"
    )


@pytest.mark.anyio
async def test_a_failing_git_command_is_an_error_result_with_its_exit_code(
    scratch: ScratchRepo, tmp_path: Path
) -> None:
    async with Client(_server(scratch, tmp_path / "a.jsonl")) as client:
        result = await client.call_tool(TOOL_NAME, {"command": "switch no-such-branch && status"})
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["not_run"] == ["git status"]
    assert "not run: git status" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "arguments", [{}, {"command": 42}, {"command": ["status"]}, {"command": "status", "x": 1}]
)
async def test_a_malformed_request_is_a_json_rpc_invalid_params_error(
    arguments: dict[str, object], scratch: ScratchRepo, tmp_path: Path
) -> None:
    async with Client(_server(scratch, tmp_path / "a.jsonl")) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool(TOOL_NAME, arguments)
    assert info.value.code == -32602
    assert not (tmp_path / "a.jsonl").exists()
