"""`agentdock launch` (what ./launch.sh runs) end to end: real servers, real image, real Claude Code CLI."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentdock import paths
from agentdock.launcher import existing_containers, remove_container, stop_servers
from agentdock.launcher.project import find_console_script

pytestmark = [pytest.mark.docker, pytest.mark.slow]

AGENTDOCK = [sys.executable, "-m", "agentdock"]

#: Runs inside the container: the MCP SDK client speaks to the qms server exactly as .mcp.json
#: tells Claude Code to (python3 /proxy/mcp_proxy.py ... with the agent's token), checks a
#: document out, edits the workspace copy in place (the server, root here, hands it to the
#: agent's uid), checks it in.
CHECKOUT_EDIT_CHECKIN = r"""
import asyncio, json, os, pathlib, subprocess
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
        out = await session.call_tool("qms_checkout", {"doc_id": "SOP-001"})
        assert not out.is_error, text(out)
        copy = project / ".claude/users/claude/workspace/SOP-001.md"
        owner = copy.stat()
        assert (owner.st_uid, owner.st_gid) == (os.getuid(), os.getgid()), (owner, os.getuid())
        # in place, as Claude Code's Edit tool writes: no rename, the file itself must be writable
        subprocess.run(["sh", "-c", 'echo "Edited inside the container through the proxy." >> "$1"',
                        "edit", str(copy)], check=True)
        out = await session.call_tool("qms_checkin", {"doc_id": "SOP-001"})
        assert not out.is_error, text(out)
        print("CHECKED-IN", text(out))

asyncio.run(main())
"""


@dataclass
class Launched:
    root: Path
    name: str
    qms_port: int
    git_port: int


def _run_launch(
    root: Path, agent: str, qms_port: int, git_port: int, *extra: str
) -> subprocess.CompletedProcess[str]:
    argv = [*AGENTDOCK, "launch", agent, "--project-root", str(root), "--qms-port", str(qms_port),
            "--git-port", str(git_port), *extra]  # fmt: skip
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=900, check=False, env=dict(os.environ)
    )


@pytest.fixture
def servers_stopped_after(qms_project: Path) -> Iterator[Path]:
    """The project; afterwards its servers are stopped, and any that no pid file named is a failure."""
    yield qms_project
    leaked = [s for s in stop_servers(qms_project, orphans=True) if "no pid file" in s]
    assert not leaked, f"servers without a pid file were left running: {leaked}"


@pytest.fixture
def launched_claude(servers_stopped_after: Path, agent_image: str, free_port: Callable[[], int]) -> Launched:
    root = servers_stopped_after
    qms_port, git_port = free_port(), free_port()
    done = _run_launch(root, "claude", qms_port, git_port, "--no-attach")
    assert done.returncode == 0, done.stderr
    return Launched(root, done.stdout.strip().splitlines()[-1], qms_port, git_port)


def _exec(docker_client: Any, name: str, script: str, program: str = "bash") -> tuple[int, str]:
    result = docker_client.containers.get(name).exec_run([program, "-c", script])
    return result.exit_code, result.output.decode("utf-8", "replace")


def test_no_attach_launch_connects_claude_code_to_qms_and_git_through_the_proxy(
    docker_client: Any, launched_claude: Launched
) -> None:
    code, out = _exec(docker_client, launched_claude.name, "timeout 180 claude mcp list")
    assert code == 0, out
    lines = {line.split(":", 1)[0]: line for line in out.splitlines() if ":" in line}
    for server in ("qms", "git"):
        assert "/proxy/mcp_proxy.py" in lines[server]
        assert "Connected" in lines[server] and "Failed" not in lines[server], out
    assert (paths.run_dir(launched_claude.root) / "qms-mcp.pid").is_file()
    assert (paths.run_dir(launched_claude.root) / "git-mcp.log").is_file()


def test_checkout_edit_checkin_through_the_proxy_from_inside_the_container(
    docker_client: Any, launched_claude: Launched
) -> None:
    root = launched_claude.root
    qms = [*find_console_script("qms"), "--project-root", str(root), "--user", "claude"]
    subprocess.run(
        [*qms, "create", "SOP", "--title", "Container edits"], check=True, capture_output=True, timeout=60
    )
    subprocess.run([*qms, "checkin", "SOP-001"], check=True, capture_output=True, timeout=60)

    code, out = _exec(docker_client, launched_claude.name, CHECKOUT_EDIT_CHECKIN, program="python3")
    assert code == 0 and "CHECKED-IN" in out, out
    draft = (paths.qms_dir(root) / "SOP" / "SOP-001-draft.md").read_text()
    assert "Edited inside the container through the proxy." in draft
    assert not (paths.agent_workspace_dir(root, "claude") / "SOP-001.md").exists()


def test_a_second_launch_of_the_same_agent_is_refused(docker_client: Any, launched_claude: Launched) -> None:
    again = _run_launch(
        launched_claude.root, "claude", launched_claude.qms_port, launched_claude.git_port, "--no-attach"
    )
    assert again.returncode == 1
    assert "already has a running container" in again.stderr
    assert [c.name for c in existing_containers(docker_client, launched_claude.root, "claude")] == [
        launched_claude.name
    ]


class _Lines:
    """A child's stderr, line by line, with a bounded wait for a line containing some text."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.stream = stream
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        """After the child exited: let the reader reach EOF (bounded), then close the pipe."""
        self.thread.join(timeout=10)
        self.stream.close()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout_s: float) -> None:
        while True:
            line = self.lines.get(timeout=timeout_s)
            if line is None:
                raise AssertionError(f"stream ended before {text!r}:\n{''.join(self.seen)}")
            self.seen.append(line)
            if text in line:
                return


def _attached_shell(
    root: Path, agent: str, free_port: Callable[[], int]
) -> tuple[subprocess.Popen[str], _Lines]:
    argv = [*AGENTDOCK, "launch", agent, "--shell", "--project-root", str(root),
            "--qms-port", str(free_port()), "--git-port", str(free_port())]  # fmt: skip
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = _Lines(proc.stderr)
    lines.wait_for("==> Attaching", timeout_s=600)
    return proc, lines


@pytest.mark.usefixtures("agent_image")
def test_leaving_the_shell_removes_the_container(
    docker_client: Any, servers_stopped_after: Path, free_port: Callable[[], int]
) -> None:
    root = servers_stopped_after
    proc, lines = _attached_shell(root, "qa", free_port)
    assert len(existing_containers(docker_client, root, "qa")) == 1
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("echo inside-$(id -u)\ntouch /acme/x 2>&1 || true\nexit 7\n")
    proc.stdin.close()
    out = proc.stdout.read()  # until the launcher exits (bounded by the test timeout)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 7
    lines.close()
    assert "inside-" in out and "inside-0" not in out
    assert "Read-only file system" in out
    assert existing_containers(docker_client, root, "qa") == []


@pytest.mark.usefixtures("agent_image")
def test_sigterm_to_the_launcher_removes_the_container_and_keeps_the_servers(
    docker_client: Any, servers_stopped_after: Path, free_port: Callable[[], int]
) -> None:
    root = servers_stopped_after
    proc, lines = _attached_shell(root, "bu", free_port)
    try:
        assert len(existing_containers(docker_client, root, "bu")) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        lines.wait_for("Removing container", timeout_s=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        lines.close()
        for container in existing_containers(docker_client, root):
            remove_container(container)
    assert existing_containers(docker_client, root, "bu") == []
    assert (paths.run_dir(root) / "qms-mcp.pid").is_file()  # servers stay up for the next launch


def test_doctor_passes_with_servers_up_and_names_the_fix_when_they_are_down(
    launched_claude: Launched,
) -> None:
    argv = [*AGENTDOCK, "doctor", "--project-root", str(launched_claude.root),
            "--qms-port", str(launched_claude.qms_port), "--git-port", str(launched_claude.git_port)]  # fmt: skip
    healthy = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "[ok  ] proxy round trip: container -> qms-mcp: qms-mcp" in healthy.stdout
    # the running agent container's posture, as the kernel enforces it
    posture = next(
        line for line in healthy.stdout.splitlines() if f"container {launched_claude.name}" in line
    )
    assert posture.startswith("[ok  ]"), healthy.stdout
    for fact in (
        "memory 2g, pids 512, cpus 2",
        "CapBnd 0x0",
        "NoNewPrivs 1",
        "root read-only",
        "policy open",
    ):
        assert fact in posture, posture
    assert "[warn] network policy: open" in healthy.stdout
    # and who the servers run as: a warning exactly when that is root
    for command in ("qms-mcp", "git-mcp"):
        line = next(line for line in healthy.stdout.splitlines() if f"] {command} user: pid" in line)
        pid = int(line.split("pid ")[1].split()[0])
        as_root = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0] == "0"
        assert line.startswith("[warn]" if as_root else "[ok  ]"), line

    stop_servers(launched_claude.root)
    down = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert down.returncode == 1
    assert "[FAIL] server qms-mcp" in down.stdout and "fix: ./launch.sh starts it" in down.stdout
    assert "proxy round trip" not in down.stdout
