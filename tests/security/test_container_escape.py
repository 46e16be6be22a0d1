"""Attacks from inside an agent container started by the launcher's real code path.

The agent is prompt-injected and tries to gain privileges: capabilities, a setuid binary,
``execve`` of something privileged, writing the image, mounting.  Each must fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentdock.launcher import (
    AgentContainerSpec,
    ImageSpec,
    LayoutSpec,
    agentdock_checkout,
    container_ids,
    ensure_image,
    existing_containers,
    provision_token,
    remove_container,
    start_agent_container,
    wait_until_ready,
)
from agentdock.launcher.inspect import container_posture, status_fields
from agentdock.launcher.project import init_demo_project

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def agent(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One running agent container (qa), exactly as ./launch.sh starts it."""
    uid, gid = container_ids()
    tag = os.environ.get("AGENTDOCK_TEST_IMAGE", "claude-agent")
    ensure_image(docker_client, ImageSpec(repo=agentdock_checkout(), tag=tag, uid=uid, gid=gid))
    root = tmp_path_factory.mktemp("escape") / "acme"
    init_demo_project(root)
    layout = LayoutSpec(root, "qa", provision_token(root, "qa"), qms_port=1, git_port=2)
    container = start_agent_container(
        docker_client, AgentContainerSpec(layout=layout, image=tag, uid=uid, gid=gid)
    )
    try:
        wait_until_ready(container, 60)
        yield container
    finally:
        for leftover in existing_containers(docker_client, root):
            remove_container(leftover)


def _sh(container: Any, script: str, user: str = "") -> tuple[int, str]:
    result = container.exec_run(["bash", "-c", script], user=user)
    return result.exit_code, result.output.decode("utf-8", "replace")


@pytest.mark.parametrize("user", ["", "0"], ids=["agent", "root-exec"])
def test_no_process_in_the_container_holds_or_can_regain_a_capability(agent: Any, user: str) -> None:
    code, out = _sh(agent, "cat /proc/self/status", user=user)
    status = status_fields(out)
    assert code == 0
    for field in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"):
        assert int(status[field], 16) == 0, f"{field} {status[field]}"
    assert status["NoNewPrivs"] == "1"
    # pid 1 (docker-init) and the entrypoint too
    assert int(status_fields(_sh(agent, "cat /proc/1/status", user="0")[1])["CapBnd"], 16) == 0


def test_the_image_has_no_setuid_or_setgid_file_and_su_and_mount_fail(agent: Any) -> None:
    _, out = _sh(agent, "find / -xdev -perm /6000 -type f 2>/dev/null; echo end", user="0")
    assert out.split() == ["end"]
    assert _sh(agent, "su -c id root </dev/null")[0] != 0
    _, out = _sh(agent, "mount -t tmpfs none /mnt 2>&1; echo rc=$?", user="0")
    assert "rc=0" not in out


def test_root_inside_cannot_chown_read_others_files_or_write_the_image(agent: Any) -> None:
    # without CAP_DAC_OVERRIDE/CAP_CHOWN, root in the container is an ordinary user on files
    assert _sh(agent, "chown 0:0 $HOME/.claude", user="0")[0] != 0
    code, out = _sh(agent, "touch /usr/local/bin/claude /etc/passwd-x 2>&1", user="0")
    assert code != 0 and "Read-only file system" in out
    # scratch space exists where Claude Code writes
    assert _sh(agent, "touch /tmp/x $HOME/.cache-x /run/agentdock/x")[0] == 0


def test_the_doctor_sees_the_same_posture_the_kernel_enforces(agent: Any) -> None:
    agent.reload()
    posture = container_posture(agent)
    assert posture.problems == []
    assert posture.cap_bnd == 0 and posture.no_new_privs is True and posture.read_only_root
    assert posture.networks == ("agentdock-agents",) and posture.policy == "open"
    assert posture.pids == 512 and posture.memory_bytes == 2 * 1024**3 and posture.cpus == 2


def test_a_container_without_hardening_is_flagged_by_the_doctor(docker_client: Any, agent: Any) -> None:
    plain = docker_client.containers.run(
        agent.image.id, ["sleep", "30"], entrypoint=[], detach=True, labels={"io.agentdock.role": "test"}
    )
    try:
        problems = container_posture(plain).problems
    finally:
        plain.remove(force=True)
    assert any("bounding set" in p for p in problems) and "no-new-privileges off" in problems
    assert {"no memory limit", "no pids limit", "writable root filesystem"} <= set(problems)


def test_nothing_of_the_host_is_writable_but_the_agents_own_folders(agent: Any) -> None:
    _, out = _sh(agent, "awk '$4 ~ /^rw/ {print $2}' /proc/self/mounts")
    writable = set(out.split())
    proj = agent.attrs["Config"]["WorkingDir"]
    expected = {
        f"{proj}/.claude/users/qa/workspace",
        f"{proj}/.claude/sessions/qa",
        "/home/agent/.claude",
        "/projects",
        "/tmp",
        "/home/agent",
        "/run/agentdock",
    }
    assert expected <= writable
    # the rest are the kernel's own (proc, sys, dev, cgroup, shm, mqueue) or Docker's resolv/hosts files
    rest = {m for m in writable - expected if not m.startswith(("/proc", "/sys", "/dev"))}
    assert rest <= {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"}, rest
    assert Path(proj).name == "acme"
