"""Agent containers' limits and network policy, with the real image and a real engine.

Low limits keep these quick: a fork loop meets a pids limit of 64, a memory hog a limit of 96 MiB.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentdock.launcher import (
    AgentContainerSpec,
    LayoutSpec,
    bridge_gateway,
    container_ids,
    provision_token,
    remove_container,
    start_agent_container,
    wait_until_ready,
)
from agentdock.launcher.containers import project_key
from agentdock.launcher.engine import in_ci
from agentdock.launcher.hardening import ContainerLimits
from agentdock.launcher.netpolicy import (
    NETWORKS,
    apply_strict,
    ensure_network,
    project_tag,
    remove_strict,
    strict_network_in_use,
    strict_state,
)

pytestmark = pytest.mark.docker

FORK_LOOP = r"""
import os, time
children = []
try:
    for _ in range(1000):  # bounded: far above the limit under test
        pid = os.fork()
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    print("fork failed after", len(children), exc.errno, flush=True)
time.sleep(20)
"""


def _spec(root: Path, agent: str, image: str, **kwargs: Any) -> AgentContainerSpec:
    uid, gid = container_ids()
    layout = LayoutSpec(root, agent, provision_token(root, agent), qms_port=1, git_port=2)
    return AgentContainerSpec(layout=layout, image=image, uid=uid, gid=gid, **kwargs)


@contextlib.contextmanager
def _agent(client: Any, spec: AgentContainerSpec) -> Iterator[Any]:
    container = start_agent_container(client, spec)
    try:
        wait_until_ready(container, 60)
        yield container
    finally:
        remove_container(container)


def _sh(container: Any, script: str, user: str = "") -> tuple[int, str]:
    result = container.exec_run(["bash", "-c", script], user=user)
    return result.exit_code, result.output.decode("utf-8", "replace")


def _pids(container: Any) -> int:
    return int(container.stats(stream=False).get("pids_stats", {}).get("current", 0))


def test_a_fork_loop_stops_at_the_pids_limit_and_the_host_stays_responsive(
    docker_client: Any, agent_image: str, qms_project: Path
) -> None:
    spec = _spec(qms_project, "qa", agent_image, limits=ContainerLimits(pids=64))
    with _agent(docker_client, spec) as container:
        assert container.attrs["HostConfig"]["PidsLimit"] == 64
        container.exec_run(["python3", "-c", FORK_LOOP], detach=True)
        deadline = time.monotonic() + 20
        while _pids(container) < 60 and time.monotonic() < deadline:
            time.sleep(0.2)
        # the loop filled the quota (the count may pass 64 by the few `docker exec` processes that
        # joined the cgroup from outside: the limit stops forks, not migrations)
        assert _pids(container) >= 60
        # the host still runs a command promptly, and the engine still answers
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=10)
        assert docker_client.ping()
        host_s = time.monotonic() - started
        # inside, no further process can start while the loop holds every pid
        result = container.exec_run(["python3", "-c", "import os; os.fork()"])
        assert result.exit_code != 0 and b"Resource temporarily unavailable" in result.output
    print(f"\nhost command during the fork loop: {host_s * 1000:.0f} ms")


def test_a_memory_hog_is_killed_by_the_container_limit(
    docker_client: Any, agent_image: str, qms_project: Path
) -> None:
    limit = 96 * 1024**2
    spec = _spec(qms_project, "qa", agent_image, limits=ContainerLimits(memory_bytes=limit))
    with _agent(docker_client, spec) as container:
        assert container.attrs["HostConfig"]["Memory"] == limit
        assert container.attrs["HostConfig"]["MemorySwap"] == limit  # no swap to escape into
        code, out = _sh(container, "python3 -c 'b = b\"x\" * (512 << 20); print(len(b))'")
        assert code == 137, out  # SIGKILL from the OOM killer
        assert "536870912" not in out
        # the container itself survives its process being killed
        assert _sh(container, "echo alive")[1].strip() == "alive"


def test_one_agent_cannot_write_another_agents_projects_or_sessions(
    docker_client: Any, agent_image: str, qms_project: Path, tmp_path: Path
) -> None:
    projects = tmp_path / "projects"
    projects.mkdir()
    proj = "/acme"
    with (
        _agent(docker_client, _spec(qms_project, "qa", agent_image)) as qa,
        _agent(docker_client, _spec(qms_project, "bu", agent_image)) as bu,
    ):
        # named volumes (the default): one per agent
        assert _sh(qa, "echo qa > /projects/from-qa && echo qa > .claude/sessions/qa/note.md")[0] == 0
        assert _sh(bu, "test -e /projects/from-qa")[0] != 0
        code, out = _sh(bu, "echo evil > .claude/sessions/qa/note.md")
        assert code != 0 and "Read-only file system" in out
        assert _sh(bu, "touch .claude/sessions/bu/own.md && touch .claude/sessions/evil.md")[0] != 0
        assert _sh(bu, "test -f .claude/sessions/bu/own.md")[0] == 0
        assert (qms_project / ".claude" / "sessions" / "qa" / "note.md").read_text() == "qa\n"
        volumes = {m["Destination"]: m.get("Name") for m in bu.attrs["Mounts"]}
        assert volumes["/projects"] == "agentdock-projects-bu"
        # nor talk to it over the network: inter-container traffic is off on the agents' network
        bu.exec_run(["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"], detach=True)
        bu.reload()
        bu_ip = bu.attrs["NetworkSettings"]["Networks"][NETWORKS["open"].name]["IPAddress"]
        deadline = time.monotonic() + 10
        while not _reaches(bu, bu_ip, 8080) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _reaches(bu, bu_ip, 8080)  # it listens
        assert not _reaches(qa, bu_ip, 8080, timeout_s=2)  # but qa cannot connect (dropped)
    # a host folder for /projects: a subfolder per agent
    spec_qa = _spec(qms_project, "qa", agent_image)
    spec_qa = AgentContainerSpec(
        **{**spec_qa.__dict__, "layout": LayoutSpec(**{**spec_qa.layout.__dict__, "projects": projects})}
    )
    with _agent(docker_client, spec_qa) as qa:
        assert _sh(qa, f"touch /projects/mine && ls -A /projects && ls -A {proj}/.claude/sessions")[0] == 0
    assert (projects / "qa" / "mine").exists() and sorted(os.listdir(projects)) == ["qa"]


def _listener(host: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen(8)
    return sock


def _reaches(container: Any, host: str, port: int, timeout_s: int = 5) -> bool:
    code, _ = _sh(container, f"timeout {timeout_s} bash -c 'exec 3<>/dev/tcp/{host}/{port}'")
    return code == 0


def test_strict_policy_lets_agents_reach_only_the_two_server_ports_on_the_host(
    docker_client: Any, agent_image: str, qms_project: Path
) -> None:
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail("CI=true but not root: the strict policy test needs iptables")
        pytest.skip("--network-policy strict needs root (iptables)")
    gateway = bridge_gateway(docker_client)
    assert gateway is not None
    strict_net = docker_client.networks.get(ensure_network(docker_client, "strict").name)
    strict_gateway = strict_net.attrs["IPAM"]["Config"][0]["Gateway"]
    # stand-ins for qms-mcp and git-mcp, and two unrelated host services, on the bridge gateways
    qms, git, other, other_on_agents_net = (
        _listener(gateway), _listener(gateway), _listener(gateway), _listener(strict_gateway),
    )  # fmt: skip
    ports = [s.getsockname()[1] for s in (qms, git, other, other_on_agents_net)]
    key = project_key(qms_project)
    try:
        apply_strict(ports[:2], key)
        apply_strict(ports[:2], key)  # idempotent
        state = strict_state()
        assert state.active and state.allowances[project_tag(key)] == f"{min(ports[:2])},{max(ports[:2])}"
        spec = _spec(qms_project, "qa", agent_image, network_policy="strict")
        with (
            _agent(docker_client, spec) as strict,
            _agent(docker_client, _spec(qms_project, "bu", agent_image)) as open_,
        ):
            assert list(strict.attrs["NetworkSettings"]["Networks"]) == [NETWORKS["strict"].name]
            assert _reaches(strict, "host.docker.internal", ports[0])
            assert _reaches(strict, "host.docker.internal", ports[1])
            started = time.monotonic()
            assert not _reaches(strict, "host.docker.internal", ports[2])
            assert time.monotonic() - started < 4  # refused at once (reset), not a hang
            assert not _reaches(strict, strict_gateway, ports[3])
            # the same host ports are open to an agent under the open policy: the rules made the difference
            assert _reaches(open_, "host.docker.internal", ports[2])
            assert _reaches(open_, strict_gateway, ports[3])
    finally:
        for sock in (qms, git, other, other_on_agents_net):
            sock.close()
        removed = remove_strict(key, keep_base=strict_network_in_use(docker_client))
    assert f"port rule {project_tag(key)}" in removed
    assert project_tag(key) not in strict_state().allowances


def test_launch_strict_sets_the_rules_for_the_real_servers_and_stop_removes_them(
    docker_client: Any, agent_image: str, qms_project: Path, free_port: Callable[[], int]
) -> None:
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail("CI=true but not root: the strict policy test needs iptables")
        pytest.skip("--network-policy strict needs root (iptables)")
    root = qms_project
    qms_port, git_port = free_port(), free_port()
    gateway = bridge_gateway(docker_client)
    assert gateway is not None
    other = _listener(gateway)
    tag = project_tag(project_key(root))
    base = [sys.executable, "-m", "agentdock"]
    try:
        launched = subprocess.run(
            [*base, "launch", "qa", "--project-root", str(root), "--qms-port", str(qms_port),
             "--git-port", str(git_port), "--image", agent_image, "--network-policy", "strict",
             "--no-attach"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert launched.returncode == 0, launched.stderr
        assert "Setting the strict network policy" in launched.stderr
        assert strict_state().allowances[tag] == ",".join(map(str, sorted((qms_port, git_port))))
        container = docker_client.containers.get(launched.stdout.strip().splitlines()[-1])
        assert list(container.attrs["NetworkSettings"]["Networks"]) == [NETWORKS["strict"].name]
        # the real qms-mcp and git-mcp answer (401 without a token); the unrelated port does not
        for port in (qms_port, git_port):
            code, out = _sh(container, f"curl -s -o /dev/null -w '%{{http_code}}' -m 5 "
                                       f"-X POST http://host.docker.internal:{port}/mcp")  # fmt: skip
            assert out.strip() == "401", (port, code, out)
        assert not _reaches(container, "host.docker.internal", other.getsockname()[1])
    finally:
        other.close()
        stopped = subprocess.run(
            [*base, "stop", "--containers", "--project-root", str(root)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert stopped.returncode == 0, stopped.stderr
    assert "strict network policy" in stopped.stderr
    assert tag not in strict_state().allowances
