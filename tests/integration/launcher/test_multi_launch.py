"""`./launch.sh claude qa --shell --tmux`: the parent readies servers and image once, then each
agent's window (a real ./launch.sh in a real tmux) finds them ready and attaches its shell."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentdock.launcher import existing_containers, remove_container, stop_servers
from agentdock.procinfo import session_members

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


class Tmux:
    """The tmux server `launch_many` starts, found through a private ``TMUX_TMPDIR``."""

    def __init__(self, tmpdir: Path) -> None:
        self.env = {**os.environ, "TMUX_TMPDIR": str(tmpdir)}
        for key in ("TMUX", "TMUX_PANE", "DISPLAY", "WAYLAND_DISPLAY"):
            self.env.pop(key, None)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", *args], capture_output=True, text=True, timeout=20, check=check, env=self.env
        )

    def capture(self, target: str) -> str:
        return self.run("capture-pane", "-p", "-J", "-S", "-", "-t", target).stdout

    def wait_for_text(self, target: str, text: str, timeout_s: float) -> str:
        """Poll the pane (bounded): a pane's text has no event to wait on."""
        deadline = time.monotonic() + timeout_s
        while True:
            screen = self.capture(target)
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout_s}s for {text!r} in {target}; pane:\n{screen}")
            time.sleep(0.2)

    def send(self, target: str, line: str) -> None:
        self.run("send-keys", "-t", target, "-l", line)
        self.run("send-keys", "-t", target, "Enter")

    def hang_up(self, timeout_s: float = 60.0) -> None:
        """Kill the server, then wait (bounded) until every process of its windows has ended
        (each pane is a session: sid = pane pid; servers run in sessions of their own)."""
        listed = self.run("list-panes", "-a", "-F", "#{pane_pid}", check=False).stdout.split()
        sessions = {int(pid) for pid in listed if pid.isdigit()}
        self.run("kill-server", check=False)
        _wait_until(lambda: not session_members(sessions), "the windows' processes to end", timeout_s)


def _wait_until(predicate: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s}s for {what}")
        time.sleep(0.2)


@pytest.fixture
def tmux(tmp_path: Path) -> Tmux:
    folder = tmp_path / "tmux"
    folder.mkdir()
    return Tmux(folder)


@pytest.fixture
def session_project(qms_project: Path, tmux: Tmux, docker_client: Any) -> Iterator[Path]:
    """The project; afterwards the windows (and their launchers) end first, so none can start a
    server after the servers are stopped; then the containers and the servers go."""
    yield qms_project
    try:
        tmux.hang_up()
        # hung up, each launcher removed its own container on the way out
        assert existing_containers(docker_client, qms_project) == []
    finally:
        for container in existing_containers(docker_client, qms_project):
            remove_container(container)
        leaked = [s for s in stop_servers(qms_project, orphans=True) if "no pid file" in s]
    assert not leaked, f"servers without a pid file were left running: {leaked}"


def test_two_agents_get_servers_and_image_once_then_a_window_each_that_finds_them_ready(
    session_project: Path, agent_image: str, tmux: Tmux, free_port: Callable[[], int], docker_client: Any
) -> None:
    root = session_project
    qms_port, git_port = free_port(), free_port()
    argv = [sys.executable, "-m", "agentdock", "launch", "claude", "qa", "--shell", "--tmux",
            "--session", "pair", "--project-root", str(root), "--qms-port", str(qms_port),
            "--git-port", str(git_port), "--image", agent_image]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, env=tmux.env)
    assert done.returncode == 0, done.stdout + done.stderr
    # the parent did the shared steps, once, before any window opened
    assert done.stderr.count("==> Checking the MCP servers") == 1
    assert f"starting qms-mcp on port {qms_port}" in done.stderr
    assert done.stderr.count(f"==> Checking the image {agent_image}") == 1
    assert "Started tmux session 'pair' with windows: claude, qa, inbox" in done.stdout

    windows = tmux.run("list-windows", "-t", "=pair", "-F", "#{window_name}").stdout.split()
    assert windows == ["claude", "qa", "inbox"]
    for agent in ("claude", "qa"):
        target = f"=pair:={agent}"
        screen = tmux.wait_for_text(target, "==> Attaching (bash)", timeout_s=300)
        # each window's launch found the parent's servers and image ready
        assert f"qms-mcp already running on port {qms_port}" in screen, screen
        assert f"git-mcp already running on port {git_port}" in screen, screen
        assert f"{agent_image} up to date" in screen, screen
        tmux.send(target, "echo in-$AGENTDOCK_AGENT-$((6 * 7))")
        tmux.wait_for_text(target, f"in-{agent}-42", timeout_s=60)
    assert sorted(c.labels["io.agentdock.agent"] for c in existing_containers(docker_client, root)) == [
        "claude",
        "qa",
    ]
    tmux.wait_for_text("=pair:=inbox", "for new tasks", timeout_s=60)
