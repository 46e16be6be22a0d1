"""End to end: `./launch.sh claude qa` as a tmux session with real containers.

Needs the launcher (`./launch.sh <agent> --shell`), the agent image, qms-mcp and
the QMS task files — all real.  Driven like a person would: tmux send-keys into
claude's window routes a CR through the QMS over MCP (through the in-container
proxy); the watcher window must announce it for qa; `qms inbox` in qa's window
must list it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
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
    stop_servers,
)
from agentdock.launcher.project import init_demo_project
from agentdock.launcher.windows.multi import MultiLaunchOptions, launch_many

from .conftest import TmuxServer

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

#: Run by python3 inside claude's container: the MCP SDK client talks to qms-mcp exactly as
#: .mcp.json tells Claude Code to (python3 /proxy/mcp_proxy.py ... with claude's token).
ROUTE_A_CR = r"""
import asyncio, json, os, pathlib, re
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

project = pathlib.Path(os.environ["AGENTDOCK_PROJECT_DIR"])
server = json.loads((project / ".mcp.json").read_text())["mcpServers"]["qms"]

def text(result):
    return " ".join(getattr(c, "text", "") for c in result.content)

async def main():
    params = StdioServerParameters(command=server["command"], args=server["args"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        created = await session.call_tool("qms_create", {"doc_type": "CR", "title": "Route me to qa"})
        assert not created.is_error, text(created)
        doc_id = re.search(r"CR-\d{3}", text(created)).group(0)
        for tool, args in (("qms_checkin", {"doc_id": doc_id}),
                           ("qms_route", {"doc_id": doc_id, "workflow": "review"})):
            out = await session.call_tool(tool, args)
            assert not out.is_error, text(out)
        print("ROUTED", doc_id)

asyncio.run(main())
"""


START_SERVERS = """
import sys
from pathlib import Path
from agentdock.launcher import (
    bridge_gateway, connect_docker, ensure_servers, provision_token, server_specs,
)
root, qms_port, git_port = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with connect_docker() as client:
    gateway = bridge_gateway(client)
hosts = ["127.0.0.1", *([gateway] if gateway else [])]
ensure_servers(server_specs(root, hosts, qms_port, git_port), provision_token(root, "claude"))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def agent_image(docker_client: Any) -> str:
    """Built (or found up to date) before the windows open, as `./launch.sh claude qa` does."""
    uid, gid = container_ids()
    tag = os.environ.get("AGENTDOCK_TEST_IMAGE", "claude-agent")
    return ensure_image(docker_client, ImageSpec(repo=agentdock_checkout(), tag=tag, uid=uid, gid=gid)).tag


@pytest.fixture
def project(tmp_path: Path, docker_client: Any, tmux_server: TmuxServer) -> Iterator[Path]:
    root = tmp_path / "acme"
    init_demo_project(root)
    (root / "e2e").mkdir()
    (root / "e2e" / "route_cr.py").write_text(ROUTE_A_CR)
    yield root
    # The windows end first: a launcher still starting up could otherwise start a server after
    # the servers were stopped, and that server would outlive the test.
    try:
        tmux_server.hang_up()
    finally:
        for container in existing_containers(docker_client, root):
            remove_container(container)
        leaked = [s for s in stop_servers(root, orphans=True) if "no pid file" in s]
    assert not leaked, f"servers without a pid file were left running: {leaked}"


def test_routing_a_cr_in_claudes_window_shows_up_in_the_watcher_and_in_qas_inbox(
    tmux_server: TmuxServer, project: Path, agent_image: str, docker_client: Any
) -> None:
    qms_port, git_port = free_port(), free_port()
    # Start the host servers once, as `./launch.sh claude qa` does before it opens the windows;
    # in a child process, since the servers outlive whoever started them.
    subprocess.run(
        [sys.executable, "-c", START_SERVERS, str(project), str(qms_port), str(git_port)],
        check=True,
        timeout=120,
    )
    ports = ("--qms-port", str(qms_port), "--git-port", str(git_port), "--image", agent_image)
    options = MultiLaunchOptions(
        project_root=project,
        passthrough=("--shell", *ports),
        session="e2e",
        tmux_command=tmux_server.command,
    )
    environ = {
        k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE", "DISPLAY", "WAYLAND_DISPLAY"}
    }
    assert launch_many(["claude", "qa"], options, environ=environ) == 0

    claude, qa, inbox = "=e2e:=claude", "=e2e:=qa", "=e2e:=inbox"
    try:
        drive_the_session(tmux_server, claude, qa, inbox, project, docker_client)
    except BaseException:
        print("\n".join(f"--- pane {w}\n{tmux_server.capture(w)}" for w in (claude, qa, inbox)))
        raise


def drive_the_session(
    tmux_server: TmuxServer, claude: str, qa: str, inbox: str, project: Path, docker_client: Any
) -> None:
    tmux_server.wait_for_text(inbox, "for new tasks")
    for window in (claude, qa):
        tmux_server.wait_for_text(window, "==> Attaching", timeout_s=420)
        tmux_server.send(window, "echo ready-$((6 * 7))")
        tmux_server.wait_for_text(window, "ready-42", timeout_s=60)
    assert len(existing_containers(docker_client, project)) == 2

    tmux_server.send(claude, "python3 e2e/route_cr.py")
    tmux_server.wait_for_text(claude, "ROUTED CR-001", timeout_s=120)

    tmux_server.wait_for_text(inbox, "[QA] New task: Review CR-001 (from claude)", timeout_s=30)

    tmux_server.send(qa, "qms --user qa inbox")
    screen = tmux_server.wait_for_text(qa, "CR-001", timeout_s=60)
    assert "from claude" in screen, screen
    print("\n".join(f"--- pane {w}\n{tmux_server.capture(w).strip()}" for w in (claude, qa, inbox)))
