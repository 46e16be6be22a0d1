from __future__ import annotations

import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from agentdock.launcher.windows.multi import MultiLaunchOptions, launch_many, plan_windows
from agentdock.launcher.windows.terminals import HostPlatform, hold_command
from agentdock.launcher.windows.tmux import default_session_name
from agentdock.procs import CommandResult

ROOT = Path("/work/demo project")
OPTIONS = MultiLaunchOptions(project_root=ROOT, passthrough=("--shell",), launch_command=("/repo/launch.sh",))
WATCH = (sys.executable, "-m", "agentdock", "inbox", "watch", "--project-root", str(ROOT))


class Tmux:
    """Records tmux argument lists; ``has-session`` answers from ``existing``."""

    def __init__(self, existing: bool = False, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.existing = existing
        self.fail_on = fail_on

    def __call__(self, args: Sequence[str]) -> CommandResult:
        self.calls.append(list(args))
        if "has-session" in args:
            return CommandResult(0 if self.existing else 1, "", "")
        if self.fail_on and self.fail_on in args:
            return CommandResult(1, "", "create window failed: boom")
        return CommandResult(0, "", "")


def no_desktop(*programs: str) -> HostPlatform:
    return HostPlatform("linux", {}, lambda n: n if n in programs else None)


def test_agents_get_a_window_each_running_launch_sh_and_the_watcher_gets_the_last() -> None:
    windows = plan_windows(["claude", "qa"], OPTIONS, "agentdock-demo")
    assert [(w.title, w.command, w.cwd) for w in windows] == [
        ("claude", ("/repo/launch.sh", "claude", "--project-root", str(ROOT), "--shell"), ROOT),
        ("qa", ("/repo/launch.sh", "qa", "--project-root", str(ROOT), "--shell"), ROOT),
        ("inbox", (*WATCH, "--tmux-session", "agentdock-demo"), ROOT),
    ]


@pytest.mark.parametrize(
    ("agents", "reason"),
    [
        (["claude"], "at least two agents"),
        (["claude", "claude"], "repeated: claude"),
        (["claude", "inbox"], "watcher's window"),
        (["claude", "tu.ui"], "only letters"),
        (["claude", "-x"], "only letters"),
    ],
)
def test_bad_agent_lists_are_refused_before_anything_starts(agents: list[str], reason: str) -> None:
    tmux, err = Tmux(), io.StringIO()
    code = launch_many(agents, OPTIONS, environ={}, platform=no_desktop("tmux"), run=tmux, err=err)
    assert code == 1
    assert reason in err.getvalue()
    assert [c for c in tmux.calls if "new-session" in c] == []


def test_without_a_desktop_a_tmux_session_is_built_window_by_window() -> None:
    tmux, out = Tmux(), io.StringIO()
    environ = {"AGENTDOCK_DATA_DIR": "/d", "SECRET": "x"}
    code = launch_many(
        ["claude", "qa"], OPTIONS, environ=environ, platform=no_desktop("tmux"), run=tmux, out=out
    )
    assert code == 0
    name = "agentdock-demo-project"
    cmd = ("/repo/launch.sh",)
    assert tmux.calls == [
        ["tmux", "has-session", "-t", f"={name}"],
        ["tmux", "new-session", "-d", "-s", name, "-n", "claude", "-c", str(ROOT), "-e", "AGENTDOCK_DATA_DIR=/d",
         "--", *hold_command("claude", (*cmd, "claude", "--project-root", str(ROOT), "--shell"))],
        ["tmux", "new-window", "-d", "-t", f"={name}:", "-n", "qa", "-c", str(ROOT), "-e", "AGENTDOCK_DATA_DIR=/d",
         "--", *hold_command("qa", (*cmd, "qa", "--project-root", str(ROOT), "--shell"))],
        ["tmux", "new-window", "-d", "-t", f"={name}:", "-n", "inbox", "-c", str(ROOT), "-e", "AGENTDOCK_DATA_DIR=/d",
         "--", *hold_command("inbox", (*WATCH, "--tmux-session", name))],
        ["tmux", "select-window", "-t", f"={name}:=claude"],
    ]  # fmt: skip
    assert f"tmux attach -t {name}" in out.getvalue()


def test_an_existing_session_of_the_same_name_is_refused_and_left_alone() -> None:
    tmux, err = Tmux(existing=True), io.StringIO()
    options = MultiLaunchOptions(project_root=ROOT, session="mine", launch_command=("x",))
    assert (
        launch_many(["claude", "qa"], options, environ={}, platform=no_desktop("tmux"), run=tmux, err=err)
        == 1
    )
    assert "'mine' already exists: attach with `tmux attach -t mine`" in err.getvalue()
    assert len(tmux.calls) == 1


def test_a_half_built_session_is_killed_when_a_window_fails() -> None:
    tmux, err = Tmux(fail_on="new-window"), io.StringIO()
    code = launch_many(["claude", "qa"], OPTIONS, environ={}, platform=no_desktop("tmux"), run=tmux, err=err)
    assert code == 1
    assert tmux.calls[-1] == ["tmux", "kill-session", "-t", "=agentdock-demo-project"]
    assert "boom" in err.getvalue()


def test_the_tmux_program_and_socket_can_be_chosen() -> None:
    tmux, out = Tmux(), io.StringIO()
    options = MultiLaunchOptions(project_root=ROOT, tmux_command=("tmux", "-L", "t1"), launch_command=("x",))
    launch_many(["claude", "qa"], options, environ={}, platform=no_desktop("tmux"), run=tmux, out=out)
    assert all(call[:3] == ["tmux", "-L", "t1"] for call in tmux.calls)
    assert "tmux -L t1 attach -t agentdock-demo-project" in out.getvalue()


def test_on_a_desktop_each_window_opens_in_the_detected_terminal() -> None:
    spawned: list[tuple[list[str], Path, dict[str, str]]] = []

    def spawn(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        spawned.append((list(args), cwd, dict(env)))

    platform = HostPlatform("linux", {"DISPLAY": ":0"}, lambda n: n if n in {"xterm", "tmux"} else None)
    environ = {"DISPLAY": ":0", "PATH": "/bin", "GH_TOKEN": "secret"}
    code = launch_many(
        ["claude", "qa"], OPTIONS, environ=environ, platform=platform, spawn=spawn, out=io.StringIO()
    )
    assert code == 0
    assert [args[:4] for args, _, _ in spawned] == [
        ["xterm", "-T", t, "-e"] for t in ("claude", "qa", "inbox")
    ]
    assert spawned[2][0][4:] == hold_command("inbox", WATCH)  # no tmux session to tell the watcher
    assert all(cwd == ROOT and env == {"DISPLAY": ":0", "PATH": "/bin"} for _, cwd, env in spawned)


def test_a_terminal_that_cannot_start_is_reported() -> None:
    def spawn(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        raise FileNotFoundError(2, "No such file", args[0])

    platform = HostPlatform("linux", {"DISPLAY": ":0"}, lambda n: n)
    err = io.StringIO()
    assert launch_many(["claude", "qa"], OPTIONS, environ={}, platform=platform, spawn=spawn, err=err) == 1
    assert "cannot start 'gnome-terminal' for claude" in err.getvalue()


@pytest.mark.parametrize(
    ("root", "name"),
    [("/x/demo", "agentdock-demo"), ("/x/my.proj:1", "agentdock-my-proj-1"), ("/", "agentdock-project")],
)
def test_default_session_names_avoid_characters_tmux_treats_specially(root: str, name: str) -> None:
    assert default_session_name(Path(root)) == name
