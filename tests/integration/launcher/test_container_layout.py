"""A real agent container from the real image: read-only project, own workspace, masks, refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentdock import paths
from agentdock.launcher import (
    AgentAlreadyRunning,
    AgentContainerSpec,
    LayoutSpec,
    container_ids,
    existing_containers,
    provision_token,
    remove_container,
    start_agent_container,
    wait_until_ready,
)

pytestmark = pytest.mark.docker


def _sh(container: Any, script: str, user: str = "") -> tuple[int, str]:
    result = container.exec_run(["bash", "-c", script], user=user)
    return result.exit_code, result.output.decode("utf-8", "replace")


def _spec(
    root: Path, agent: str, image: str, environment: dict[str, str] | None = None
) -> AgentContainerSpec:
    uid, gid = container_ids()
    token = provision_token(root, agent)
    layout = LayoutSpec(root, agent, token, qms_port=1, git_port=2)
    return AgentContainerSpec(layout=layout, image=image, uid=uid, gid=gid, environment=environment or {})


def test_agent_sees_a_read_only_project_its_own_workspace_and_nothing_private(
    docker_client: Any, agent_image: str, qms_project: Path
) -> None:
    provision_token(qms_project, "bu")  # another agent's token exists and must stay invisible
    spec = _spec(qms_project, "qa", agent_image, {"GH_TOKEN": "ghp_NotARealToken0123456789"})
    previous_run = {  # what an earlier session left in the agent's persisted Claude config
        "oauthAccount": {"emailAddress": "qa@example.org"},
        "userID": "u-123",
        "mcpServers": {"stale": {"command": "old"}},
        "projects": {"/elsewhere": {"mcpServers": {"x": {}}, "lastSessionId": "s-1"}},
    }
    paths.agent_container_dir(qms_project, "qa").mkdir(parents=True)
    (paths.agent_container_dir(qms_project, "qa") / ".claude.json").write_text(json.dumps(previous_run))
    container = start_agent_container(docker_client, spec)
    try:
        wait_until_ready(container, 60)
        proj = "/acme"
        logs = container.logs().decode()
        assert "agentdock: ready" in logs and "gh:" in logs
        assert "ghp_NotARealToken" not in logs

        code, out = _sh(container, f"touch {proj}/QMS/tampered")
        assert code != 0 and "Read-only file system" in out
        code, out = _sh(container, f"echo draft > {proj}/.claude/users/qa/workspace/note.md && id -u")
        assert code == 0 and out.strip() != "0"
        assert (paths.agent_workspace_dir(qms_project, "qa") / "note.md").read_text() == "draft\n"

        # even root inside the container finds the masks empty: nothing was copied up
        code, out = _sh(container, f"ls -A {proj}/.claude/users; ls -A {proj}/.agentdock; echo end", user="0")
        assert out.split() == ["qa", "end"]
        for secret in (f"{proj}/.agentdock/tokens.json", f"{proj}/.claude/users/bu"):
            assert _sh(container, f"test -e {secret}")[0] != 0, secret
        assert _sh(container, f"touch {proj}/.claude/users/bu")[0] != 0

        code, out = _sh(container, "claude --version")
        assert code == 0 and "Claude Code" in out

        token = paths.agent_token_file(qms_project, "qa").read_text().strip()
        code, out = _sh(container, f"cat {proj}/.mcp.json")
        servers = json.loads(out)["mcpServers"]
        assert set(servers) == {"qms", "git"}
        assert servers["qms"]["args"][-1] == f"Authorization=Bearer {token}"
        assert _sh(container, "ls -A $CLAUDE_CONFIG_DIR")[1].split().count(".agentdock-token") == 0

        code, out = _sh(container, f"cat {proj}/CLAUDE.md")
        assert out == (paths.agents_dir(qms_project) / "qa.md").read_text()

        code, out = _sh(container, "cat $CLAUDE_CONFIG_DIR/.claude.json")
        config = json.loads(out)
        assert config["oauthAccount"] == previous_run["oauthAccount"] and config["userID"] == "u-123"
        assert "mcpServers" not in config and list(config["projects"]) == [proj]
        state = config["projects"][proj]
        assert state["hasTrustDialogAccepted"] is True
        assert state["enabledMcpjsonServers"] == ["git", "qms"]

        assert _sh(container, "touch /projects/ok && test -w $HOME/.claude")[0] == 0
        assert (
            _sh(container, "test -f /proxy/mcp_proxy.py && git --version && gh --version && jq --version")[0]
            == 0
        )
    finally:
        remove_container(container)
    assert existing_containers(docker_client, qms_project, "qa") == []


def test_a_second_container_for_the_same_agent_is_refused_and_the_first_survives(
    docker_client: Any, agent_image: str, qms_project: Path
) -> None:
    spec = _spec(qms_project, "claude", agent_image)
    first = start_agent_container(docker_client, spec)
    try:
        with pytest.raises(AgentAlreadyRunning, match=first.name):
            start_agent_container(docker_client, spec)
        wait_until_ready(first, 60)
        assert [c.id for c in existing_containers(docker_client, qms_project, "claude")] == [first.id]
    finally:
        remove_container(first)
