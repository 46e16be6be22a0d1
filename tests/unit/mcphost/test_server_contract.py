"""``qms-mcp`` and ``git-mcp`` are two servers on one host: the same flags, the same error shapes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, INVALID_REQUEST

from agentdock.gitgate import server as git_server
from agentdock.gitgate.gateway import GitGateway
from agentdock.mcphost import TokenStore
from agentdock.mcphost.http import build_app
from agentdock.mcphost.options import DEFAULT_TRANSPORT, SHARED_FLAGS, ServerOptions
from agentdock.mcphost.results import REFUSAL_RE
from agentdock.qms import mcp as qms_server
from agentdock.qms.project import init_project

ENV = {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A QMS project that is also a git work tree: both servers accept it."""
    init_project(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, env=ENV)
    return tmp_path.resolve()


def qms_options(argv: list[str], environ: dict[str, str] | None = None) -> ServerOptions:
    return qms_server.parse_args(argv, environ or {})


def git_options(argv: list[str], environ: dict[str, str] | None = None) -> ServerOptions:
    _config, options = git_server.resolve_config(
        git_server._parser().parse_args(argv), {**ENV, **(environ or {})}
    )
    return options


PARSERS: dict[str, Callable[..., ServerOptions]] = {"qms-mcp": qms_options, "git-mcp": git_options}


def test_both_servers_accept_every_shared_flag_and_resolve_it_the_same_way(root: Path) -> None:
    argv = [
        "--transport", "streamable-http",
        "--host", "127.0.0.1,172.17.0.1", "--host", "::1",
        "--port", "0",
        "--project-root", str(root),
        "--user", "qa",
        "--stateless", "--json-response",
        "--allow-host", "agents.example",
        "--log-level", "DEBUG",
        "--allow-root",
        "--read-timeout", "3", "--idle-timeout", "4",
        "--max-connections", "100", "--max-connections-per-peer", "10",
        "--max-header-bytes", "4096", "--max-body-bytes", "8192",
        "--session-lifetime", "7.5", "--shutdown-grace", "0.5",
    ]  # fmt: skip
    assert {a for a in argv if a.startswith("--")} == set(SHARED_FLAGS)
    qms, git = qms_options(argv), git_options(argv)
    assert dataclasses.replace(qms, name="") == dataclasses.replace(git, name="")
    assert qms.hosts == ("127.0.0.1", "172.17.0.1", "::1") and qms.log_level == "debug" and qms.allow_root
    assert (qms.limits.read_timeout_s, qms.limits.max_connections_per_peer, qms.limits.max_body_bytes) == (
        3.0,
        10,
        8192,
    )
    assert (qms.limits.session_lifetime_s, qms.limits.shutdown_grace_s) == (7.5, 0.5)
    for parser in (qms_server._parser(), git_server._parser()):
        text = parser.format_help()
        assert all(flag in text for flag in SHARED_FLAGS)


def test_both_servers_share_defaults_apart_from_their_port(root: Path) -> None:
    qms = qms_options(["--project-root", str(root)], {"QMS_USER": "qa"})
    git = git_options(["--project-root", str(root)], {"QMS_USER": "qa"})
    assert (qms.port, git.port) == (8000, 8001)
    assert dataclasses.replace(qms, name="", port=0) == dataclasses.replace(git, name="", port=0)
    assert qms.transport == DEFAULT_TRANSPORT == "stdio" and qms.stdio_user == "qa" and not qms.allow_root


@pytest.mark.parametrize("server", sorted(PARSERS))
def test_root_policy_and_ports_come_from_the_environment_when_no_flag_says(root: Path, server: str) -> None:
    prefix = "QMS_MCP" if server == "qms-mcp" else "GIT_MCP"
    options = PARSERS[server](
        ["--project-root", str(root)], {"AGENTDOCK_ALLOW_ROOT": "1", f"{prefix}_PORT": "9100"}
    )
    assert options.allow_root and options.port == 9100


@pytest.mark.parametrize("server", sorted(PARSERS))
@pytest.mark.parametrize("bad", [["--read-timeout", "0"], ["--max-body-bytes", "0"], ["--port", "70000"]])
def test_bad_limits_are_usage_errors_in_both(root: Path, server: str, bad: list[str]) -> None:
    with pytest.raises((SystemExit, git_server.ConfigError)):
        PARSERS[server](["--project-root", str(root), *bad])


# -- error shapes ------------------------------------------------------------------------------------


def build(server: str, root: Path, *, stdio_user: str | None) -> MCPServer[Any]:
    if server == "qms-mcp":
        options = qms_options(["--project-root", str(root)])
        return qms_server.build_server(dataclasses.replace(options, stdio_user=stdio_user))
    config, _ = git_server.resolve_config(git_server._parser().parse_args(["--project-root", str(root)]), ENV)
    return git_server.build_server(GitGateway(config), stdio_user=stdio_user)


REFUSED = {
    "qms-mcp": ("qms_create", {"doc_type": "SOP", "title": "qa may not"}),
    "git-mcp": ("git_exec", {"command": "branch -D main"}),
}
MALFORMED = {
    "qms-mcp": ("qms_read", {"doc_id": "../../etc/passwd"}),
    "git-mcp": ("git_exec", {"command": 42}),
}


@pytest.mark.anyio
@pytest.mark.parametrize("server", sorted(REFUSED))
async def test_a_refusal_is_an_is_error_tool_result_spelled_the_same_by_both(root: Path, server: str) -> None:
    tool, arguments = REFUSED[server]
    async with Client(build(server, root, stdio_user="qa")) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert REFUSAL_RE.match(text), text


@pytest.mark.anyio
@pytest.mark.parametrize("server", sorted(MALFORMED))
async def test_a_malformed_request_is_invalid_params_in_both(root: Path, server: str) -> None:
    tool, arguments = MALFORMED[server]
    async with Client(build(server, root, stdio_user="qa")) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool(tool, arguments)
    assert info.value.code == INVALID_PARAMS


@pytest.mark.anyio
@pytest.mark.parametrize("server", sorted(REFUSED))
async def test_a_call_without_a_caller_is_a_json_rpc_error_never_a_tool_result(
    root: Path, server: str
) -> None:
    tool, arguments = REFUSED[server]
    async with Client(build(server, root, stdio_user=None)) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool(tool, arguments)
    assert info.value.code == INVALID_REQUEST and "unauthenticated" in str(info.value)


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


@pytest.mark.anyio
@pytest.mark.parametrize("server", sorted(REFUSED))
async def test_over_http_both_answer_401_with_a_bearer_challenge_and_the_same_size_limits(
    root: Path, server: str
) -> None:
    store = TokenStore(root)
    token = store.ensure("claude")
    mcp_server = build(server, root, stdio_user=None)
    app = build_app(
        mcp_server, store, stateless=True, json_response=True, max_body_bytes=2048, max_header_bytes=4096
    )
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with mcp_server.session_manager.run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            anonymous = await http.post("/mcp", json=INIT, headers=headers)
            authed = {**headers, "authorization": f"Bearer {token}"}
            big_body = await http.post("/mcp", content=b"{" + b" " * 4000 + b"}", headers=authed)
            big_head = await http.post("/mcp", json=INIT, headers={**authed, "x-pad": "p" * 5000})
            ok = await http.post("/mcp", json=INIT, headers=authed)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith('Bearer realm="agentdock"')
    assert (big_body.status_code, big_head.status_code, ok.status_code) == (413, 431, 200)
