"""git-mcp as a real subprocess over Streamable HTTP: bearer tokens, identity from the token, 401 without."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from agentdock import paths
from agentdock.gitgate.process import GitServerProcess, git_server_process
from agentdock.gitgate.scratch import ScratchRepo
from agentdock.gitgate.server import TOOL_NAME
from agentdock.mcphost import TokenStore


@pytest.fixture(scope="module")
def tokens(scratch: ScratchRepo) -> dict[str, str]:
    store = TokenStore(scratch.root)
    return {agent: store.ensure(agent) for agent in ("claude", "qa")}


@pytest.fixture(scope="module")
def server(scratch: ScratchRepo, tokens: dict[str, str]) -> Iterator[GitServerProcess]:
    env = {**scratch.env, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with git_server_process(scratch.root, env=env) as proc:
        yield proc


async def _call(url: str, token: str, command: str):  # type: ignore[no-untyped-def]
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(60.0))
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        tools = await client.list_tools()
        assert [t.name for t in tools.tools] == [TOOL_NAME]
        return await client.call_tool(TOOL_NAME, {"command": command})


@pytest.mark.anyio
async def test_an_agent_with_a_token_runs_git_and_is_recorded_by_its_token(
    server: GitServerProcess, scratch: ScratchRepo, tokens: dict[str, str]
) -> None:
    result = await _call(server.url, tokens["qa"], "status --short && rev-parse HEAD")
    assert not result.is_error
    assert result.structured_content is not None
    head = scratch.git("rev-parse", "HEAD").strip()
    assert result.structured_content["steps"][1]["stdout"].strip() == head
    audit = paths.run_dir(scratch.root) / "git-mcp-audit.jsonl"
    record = json.loads(audit.read_text().splitlines()[-1])
    assert record["agent"] == "qa" and record["command"] == "status --short && rev-parse HEAD"


@pytest.mark.anyio
async def test_a_refused_command_over_http_is_an_error_result_naming_the_rule(
    server: GitServerProcess, tokens: dict[str, str]
) -> None:
    result = await _call(server.url, tokens["claude"], "clean -fdx")
    assert result.is_error
    assert result.content[0].text.startswith("refused [clean-force]")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer adk_not-a-real-token", "Basic dXNlcjpwdw=="]
)
def test_requests_without_a_valid_token_get_401_and_run_nothing(
    server: GitServerProcess, scratch: ScratchRepo, authorization: str | None
) -> None:
    head = scratch.git("rev-parse", "HEAD")
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": TOOL_NAME, "arguments": {"command": "commit --allow-empty -m unauth"}},
    }
    response = httpx.post(server.url, json=call, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert scratch.git("rev-parse", "HEAD") == head


def test_explain_policy_prints_the_rule_table_without_a_project() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agentdock.gitgate.server", "--explain-policy"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "force-push  [policy]" in done.stdout and "refuses:  'push origin +main'" in done.stdout


def test_a_project_root_that_is_not_a_repository_is_a_clear_startup_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [sys.executable, "-m", "agentdock.gitgate.server", "--project-root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not a git working tree" in done.stderr


@pytest.mark.anyio
async def test_over_stdio_the_caller_is_the_configured_user(scratch: ScratchRepo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    audit = tmp_path / "stdio-audit.jsonl"
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "agentdock.gitgate.server",
            "--transport",
            "stdio",
            "--project-root",
            str(scratch.root),
            "--user",
            "qa",
            "--audit-file",
            str(audit),
        ],
        env={
            **scratch.env,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            # run as root (CI), the suite lets servers keep root on its root-owned scratch projects
            **{k: v for k, v in os.environ.items() if k == "AGENTDOCK_ALLOW_ROOT"},
        },
    )
    async with Client(params) as client:
        ok = await client.call_tool(TOOL_NAME, {"command": "log -1 --format=%s"})
        refused = await client.call_tool(TOOL_NAME, {"command": "branch -D feature"})
    assert not ok.is_error
    assert refused.is_error and refused.content[0].text.startswith("refused [branch-force]")  # type: ignore[union-attr]
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["agent"], r["outcome"]) for r in records] == [("qa", "ok"), ("qa", "refused")]
