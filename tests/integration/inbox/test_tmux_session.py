"""launch_many against a real tmux server: windows, commands, the watcher, clean-up."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from agentdock.inbox.pidfile import read_pid
from agentdock.launcher.windows.multi import MultiLaunchOptions, launch_many
from agentdock.paths import run_dir

from .conftest import TmuxServer, poll_until, task_name, task_text

pytestmark = pytest.mark.slow

# Stands in for ./launch.sh: shows the arguments it got, then keeps the window open.
FAKE_LAUNCH = ("bash", "-c", 'echo "launched: $*"; exec cat', "fake-launch")


def environ_outside_tmux() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE", "DISPLAY", "WAYLAND_DISPLAY"}
    }


def test_a_tmux_session_gets_a_window_per_agent_and_a_watcher_that_announces(
    tmux_server: TmuxServer, tmp_path: Path
) -> None:
    root = tmp_path / "demo"
    (root / ".claude" / "users").mkdir(parents=True)
    options = MultiLaunchOptions(
        project_root=root,
        passthrough=("--shell",),
        session="multi-test",
        launch_command=FAKE_LAUNCH,
        tmux_command=tmux_server.command,
    )
    out = io.StringIO()
    assert launch_many(["claude", "qa"], options, environ=environ_outside_tmux(), out=out) == 0
    assert f"{' '.join(tmux_server.command)} attach -t multi-test" in out.getvalue()

    windows = tmux_server.run("list-windows", "-t", "=multi-test", "-F", "#{window_name}").stdout.split()
    assert windows == ["claude", "qa", "inbox"]
    tmux_server.wait_for_text("=multi-test:=claude", f"launched: claude --project-root {root} --shell")
    tmux_server.wait_for_text("=multi-test:=qa", f"launched: qa --project-root {root} --shell")
    tmux_server.wait_for_text("=multi-test:=inbox", "for new tasks")

    pid_file = run_dir(root) / ".inbox-watcher.pid"
    assert read_pid(pid_file) is not None
    inbox = root / ".claude" / "users" / "qa" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / task_name("CR-001")).write_text(task_text("CR-001"))
    tmux_server.wait_for_text("=multi-test:=inbox", "[QA] New task: Review CR-001 (from claude)")

    again = io.StringIO()
    assert launch_many(["claude", "qa"], options, environ=environ_outside_tmux(), err=again) == 1
    assert "'multi-test' already exists" in again.getvalue()

    # Closing the session hangs up the watcher, which removes its pid file on the way out.
    tmux_server.run("kill-session", "-t", "=multi-test")
    poll_until(lambda: not pid_file.exists(), "the watcher to remove its pid file after SIGHUP")
    assert "stopped" in (run_dir(root) / ".inbox-watcher.log").read_text()
