"""What a new user trips over, with real parts: a real engine, real servers, a real container.

* a launch that fails stops the servers it started;
* two projects run agents at once, each on its own ports, and ``stop`` lists both;
* a project that is not a git repository launches with the QMS only;
* ``claude mcp list`` works from a login shell (``bash -l``) inside the container.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentdock.launcher import existing_containers, remove_container, stop_servers
from agentdock.launcher.project import find_console_script, init_demo_project
from agentdock.launcher.servers import server_processes

pytestmark = [pytest.mark.docker, pytest.mark.slow]

AGENTDOCK = [sys.executable, "-m", "agentdock"]


def _agentdock(data_dir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENTDOCK_DATA_DIR": str(data_dir)}
    env.pop("AGENTDOCK_QMS_PORT", None)
    env.pop("AGENTDOCK_GIT_PORT", None)
    return subprocess.run(
        [*AGENTDOCK, *args], capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


@pytest.fixture
def roots(tmp_path: Path, docker_client: Any) -> Iterator[list[Path]]:
    """Project roots for a test; afterwards their containers and servers are gone (none left behind)."""
    made: list[Path] = []
    yield made
    for root in made:
        for container in existing_containers(docker_client, root):
            remove_container(container)
        stop_servers(root, orphans=True)
        assert server_processes(root) == []


def _started_port(stderr: str, command: str) -> int:
    match = re.search(rf"(?:starting|already running) {command} on port (\d+)", stderr) or re.search(
        rf"{command} (?:already running )?on port (\d+)", stderr
    )
    assert match, stderr
    return int(match.group(1))


def test_a_launch_that_fails_stops_the_servers_it_started(tmp_path: Path, roots: list[Path]) -> None:
    root = tmp_path / "fails"
    init_demo_project(root)
    roots.append(root)
    # the image step fails at once (no such tag can exist), after the servers were started
    done = _agentdock(tmp_path / "data", "launch", "claude", "--project-root", str(root), "--no-attach",
                      "--image", "Not A Valid:Tag")  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "starting qms-mcp" in done.stderr and "starting git-mcp" in done.stderr
    assert "stopping what this launch started: qms-mcp, git-mcp" in done.stderr
    assert server_processes(root) == []


def test_two_projects_run_at_once_on_their_own_ports_and_stop_lists_both(
    tmp_path: Path, roots: list[Path], agent_image: str
) -> None:
    data = tmp_path / "data"
    first, second = tmp_path / "first", tmp_path / "second"
    for root in (first, second):
        init_demo_project(root)
        roots.append(root)
    ports = []
    for root in (first, second):
        done = _agentdock(
            data, "launch", "qa", "--project-root", str(root), "--no-attach", "--image", agent_image
        )
        assert done.returncode == 0, done.stderr
        ports.append((_started_port(done.stderr, "qms-mcp"), _started_port(done.stderr, "git-mcp")))
    assert len({*ports[0], *ports[1]}) == 4, ports  # no port shared between the projects
    # a later launch of the first project finds its servers on the same ports
    again = _agentdock(
        data, "launch", "tu_ui", "--project-root", str(first), "--no-attach", "--image", agent_image
    )
    assert again.returncode == 0, again.stderr
    assert f"qms-mcp already running on port {ports[0][0]}" in again.stderr

    listed = _agentdock(data, "stop", "--project-root", str(first), "--containers", timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert str(first) in listed.stderr and str(second) in listed.stderr  # what runs, for which project
    assert "./launch.sh stop --all" in listed.stderr
    assert server_processes(first) == [] and server_processes(second) != []
    everything = _agentdock(data, "stop", "--all", "--containers", timeout=120)
    assert everything.returncode == 0, everything.stderr
    assert server_processes(second) == []


def test_a_project_without_git_launches_with_the_qms_only_and_login_shells_reach_it(
    tmp_path: Path, roots: list[Path], agent_image: str, docker_client: Any
) -> None:
    root = tmp_path / "plain"
    subprocess.run(
        [*find_console_script("qms"), "init", "--root", str(root)], check=True, capture_output=True
    )
    roots.append(root)
    done = _agentdock(tmp_path / "data", "launch", "claude", "--project-root", str(root), "--no-attach",
                      "--image", agent_image)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "git gateway is off" in done.stderr and "not a git repository" in done.stderr
    assert "starting git-mcp" not in done.stderr
    name = done.stdout.strip().splitlines()[-1]
    container = docker_client.containers.get(name)
    for shell in (["bash", "-c"], ["bash", "-l", "-c"]):  # a login shell resets PATH
        result = container.exec_run([*shell, "timeout 180 claude mcp list"])
        out = result.output.decode("utf-8", "replace")
        lines = {line.split(":", 1)[0]: line for line in out.splitlines() if ":" in line}
        assert result.exit_code == 0, out
        assert "Connected" in lines["qms"], out
        assert "git" not in lines, out

    doctor = _agentdock(
        tmp_path / "data", "doctor", "--project-root", str(root), "--image", agent_image, timeout=300
    )
    assert "git gateway: off" in doctor.stdout, doctor.stdout
