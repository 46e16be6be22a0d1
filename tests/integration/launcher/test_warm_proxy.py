"""The proxy's warm start in a hardened agent container, with the real image and a real engine.

Inside the container a real MCP test server runs; ``python3 -S /proxy/mcp_proxy.py`` (as
.mcp.json starts it) answers ``--check`` and an initialize round trip through the warm-start
server the entrypoint started: the proxy runs in that server's child, on the client's own
stdin. With the server killed (SIGKILL: its socket stays behind, refusing), the same commands
start the proxy cold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentdock.launcher import (
    AgentContainerSpec,
    LayoutSpec,
    container_ids,
    provision_token,
    remove_container,
    start_agent_container,
    wait_until_ready,
)

pytestmark = pytest.mark.docker

SOCKET = "/run/agentdock/warm/proxy.sock"

#: Runs in the container as the agent: a test server, then the proxy as Claude Code starts it.
SESSION = r"""
import json, os, subprocess, sys

def warm_pid():
    found = subprocess.run(["pgrep", "-f", "^python3 -m agentdock[.]proxy[.]warm "],
                           capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None

def children(pid):
    return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]

server = subprocess.Popen([sys.executable, "-m", "agentdock.proxy.testserver"], stdout=subprocess.PIPE, text=True)
try:
    url = f"http://127.0.0.1:{int(server.stdout.readline().split()[1])}/mcp"
    out = {"env": os.environ.get("AGENTDOCK_PROXY_WARM_SOCKET"), "warm_pid": warm_pid()}
    check = subprocess.run(["python3", "-S", "/proxy/mcp_proxy.py", "--check", url],
                           capture_output=True, text=True, timeout=60)
    out["check"] = [check.returncode, check.stdout, check.stderr]
    client = subprocess.Popen(["python3", "-S", "/proxy/mcp_proxy.py", url],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    client.stdin.write(json.dumps(init) + "\n")
    client.stdin.flush()
    out["initialize"] = json.loads(client.stdout.readline())
    out["client_children"] = children(client.pid)
    out["client_stdin"] = os.readlink(f"/proc/{client.pid}/fd/0")
    if out["warm_pid"] is not None:
        out["warm_children"] = [
            {"pid": c, "stdin": os.readlink(f"/proc/{c}/fd/0"), "ppid": int(open(f"/proc/{c}/stat").read().split(") ")[1].split()[1])}
            for c in children(out["warm_pid"])
        ]
    client.stdin.close()
    out["code"] = client.wait(timeout=30)
    client.stdout.close()
    print(json.dumps(out))
finally:
    server.kill()
    server.wait()
"""


@pytest.fixture
def agent(docker_client: Any, agent_image: str, qms_project: Path) -> Iterator[Any]:
    """One agent container (qa) exactly as ./launch.sh starts it: hardened, read-only root."""
    uid, gid = container_ids()
    layout = LayoutSpec(qms_project, "qa", provision_token(qms_project, "qa"), qms_port=1, git_port=2)
    container = start_agent_container(
        docker_client, AgentContainerSpec(layout=layout, image=agent_image, uid=uid, gid=gid)
    )
    try:
        wait_until_ready(container, 60)
        container.reload()
        host = container.attrs["HostConfig"]
        assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"]
        assert "no-new-privileges:true" in host["SecurityOpt"]
        yield container
    finally:
        remove_container(container)


def _session(container: Any) -> dict[str, Any]:
    result = container.exec_run(["python3", "-c", SESSION])
    output = result.output.decode("utf-8", "replace")
    assert result.exit_code == 0, output
    return json.loads(output.splitlines()[-1])  # type: ignore[no-any-return]


def _assert_proxy_answered(out: dict[str, Any]) -> None:
    code, stdout, stderr = out["check"]
    assert code == 0 and stdout.startswith("OK http://127.0.0.1:"), (stdout, stderr)
    assert out["initialize"]["id"] == 1
    assert out["initialize"]["result"]["serverInfo"]["name"] == "agentdock-testserver"
    assert out["code"] == 0


def test_the_proxy_answers_through_the_warm_server_in_a_hardened_container(agent: Any) -> None:
    out = _session(agent)
    assert out["env"] == SOCKET
    assert out["warm_pid"] is not None
    _assert_proxy_answered(out)
    # the proxy ran in the warm server's child, on the client's own stdin; the client forked nothing
    (child,) = out["warm_children"]
    assert child["ppid"] == out["warm_pid"]
    assert child["stdin"] == out["client_stdin"]
    assert out["client_children"] == []


def test_with_the_warm_server_killed_the_proxy_starts_cold(agent: Any) -> None:
    pid = _session(agent)["warm_pid"]
    agent.exec_run(["kill", "-KILL", str(pid)])
    stale = agent.exec_run(["test", "-S", SOCKET]).exit_code == 0
    out = _session(agent)
    assert out["warm_pid"] is None
    assert stale  # SIGKILL left the socket: connect is refused, the client starts cold
    _assert_proxy_answered(out)
    assert out["client_children"] == []
