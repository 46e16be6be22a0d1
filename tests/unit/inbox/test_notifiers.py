from __future__ import annotations

import io
import logging
import subprocess
from collections.abc import Sequence

import pytest

from agentdock.inbox.notifiers import DesktopNotifier, StreamNotifier, TmuxNotifier, fan_out
from agentdock.inbox.tasks import Task
from agentdock.procs import CommandResult, child_env


def make_task(agent: str = "qa", doc_id: str = "CR-056", task_type: str = "REVIEW") -> Task:
    return Task(
        agent=agent,
        task_id=f"task-{doc_id}",
        task_type=task_type,
        workflow_type=task_type,
        doc_id=doc_id,
        title="Add a widget",
        responsible_user=agent,
        assigned_by="claude",
        assigned_date="2025-01-02",
        version="0.1",
        body="",
    )


class Recorder:
    """A CommandRunner that records argument lists and answers from a script."""

    def __init__(self, answers: dict[str, CommandResult] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, args: Sequence[str]) -> CommandResult:
        self.calls.append(list(args))
        for word, answer in self.answers.items():
            if word in args:
                return answer
        return CommandResult(0, "", "")


def which_only(*present: str):  # type: ignore[no-untyped-def]
    return lambda name: f"/usr/bin/{name}" if name in present else None


def test_stream_notifier_writes_one_announcement_line_per_task() -> None:
    out = io.StringIO()
    StreamNotifier(out).notify(make_task(doc_id="CR-056-VAR-001"))
    assert out.getvalue() == "[QA] New task: Review CR-056-VAR-001 (from claude)\n"


def test_fan_out_hands_each_task_to_every_notifier() -> None:
    one, two = io.StringIO(), io.StringIO()
    fan_out([StreamNotifier(one), StreamNotifier(two)])(make_task())
    assert one.getvalue() == two.getvalue() != ""


@pytest.mark.parametrize(
    ("platform", "environ", "present", "expected"),
    [
        ("linux", {"DISPLAY": ":0"}, ("notify-send",), "notify-send"),
        ("linux", {"WAYLAND_DISPLAY": "wayland-0"}, ("notify-send",), "notify-send"),
        ("linux", {}, ("notify-send",), None),
        ("linux", {"DISPLAY": ":0"}, (), None),
        ("darwin", {}, ("osascript",), "osascript"),
        ("darwin", {}, (), None),
        ("win32", {}, ("notify-send", "osascript"), None),
    ],
)
def test_desktop_notifications_are_used_only_where_a_desktop_and_its_program_exist(
    platform: str, environ: dict[str, str], present: tuple[str, ...], expected: str | None
) -> None:
    found = DesktopNotifier.detect(
        platform=platform, environ=environ, which=which_only(*present), run=Recorder()
    )
    assert (found.program if found else None) == expected


def test_notify_send_gets_the_task_as_separate_arguments() -> None:
    run = Recorder()
    DesktopNotifier("notify-send", run).notify(make_task(task_type="APPROVAL"))
    assert run.calls == [
        [
            "notify-send",
            "--app-name=agentdock",
            "agentdock: new task for qa",
            "Approve CR-056 (from claude): Add a widget",
        ]
    ]


def test_osascript_receives_the_text_as_script_arguments_not_inside_the_script() -> None:
    task = make_task()
    args = DesktopNotifier("osascript", Recorder()).command(task)
    script = " ".join(args[1:7])
    assert "CR-056" not in script
    assert args[0] == "osascript"
    assert args[-2:] == ["agentdock: new task for qa", "Review CR-056 (from claude): Add a widget"]


def test_a_failing_desktop_notifier_is_logged_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    def broken(args: Sequence[str]) -> CommandResult:
        raise subprocess.TimeoutExpired(list(args), 5)

    with caplog.at_level(logging.WARNING, logger="agentdock.inbox"):
        DesktopNotifier("notify-send", broken).notify(make_task())
    assert "notify-send failed" in caplog.text


def test_tmux_notifier_shows_the_announcement_in_the_agents_window() -> None:
    run = Recorder({"list-windows": CommandResult(0, "claude\nqa\ninbox\n", "")})
    TmuxNotifier("agentdock-demo", run, tmux=("tmux", "-L", "sock")).notify(make_task())
    assert run.calls == [
        ["tmux", "-L", "sock", "list-windows", "-t", "=agentdock-demo", "-F", "#{window_name}"],
        [
            "tmux",
            "-L",
            "sock",
            "display-message",
            "-d",
            "10000",
            "-t",
            "=agentdock-demo:=qa",
            "[QA] New task: Review CR-056 (from claude)",
        ],
    ]


def test_tmux_notifier_shows_nothing_when_the_session_has_no_window_for_the_agent() -> None:
    run = Recorder({"list-windows": CommandResult(0, "claude\ninbox\n", "")})
    TmuxNotifier("s", run).notify(make_task(agent="tu_ui"))
    assert [call[1] for call in run.calls] == ["list-windows"]


def test_tmux_notifier_shows_nothing_when_the_session_is_gone(caplog: pytest.LogCaptureFixture) -> None:
    run = Recorder({"list-windows": CommandResult(1, "", "can't find session: s")})
    with caplog.at_level(logging.WARNING, logger="agentdock.inbox"):
        TmuxNotifier("s", run).notify(make_task())
    assert len(run.calls) == 1
    assert "can't find session" in caplog.text


def test_hashes_in_tmux_messages_are_escaped_from_format_expansion() -> None:
    task = make_task()
    object.__setattr__(task, "assigned_by", "x#{pane_pid}")
    args = TmuxNotifier("s", Recorder()).display_command(task)
    assert args[-1].endswith("(from x##{pane_pid})")


def test_current_tmux_session_is_asked_of_tmux_only_inside_tmux() -> None:
    run = Recorder({"display-message": CommandResult(0, "agentdock-demo\n", "")})
    assert TmuxNotifier.current_session({}, run) is None
    assert run.calls == []
    inside = {"TMUX": "/tmp/tmux-0/default,1,0", "TMUX_PANE": "%3"}
    assert TmuxNotifier.current_session(inside, run) == "agentdock-demo"
    assert run.calls == [["tmux", "display-message", "-p", "-t", "%3", "#{session_name}"]]


def test_children_inherit_only_allow_listed_variables() -> None:
    env = child_env({"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "x", "GH_TOKEN": "y", "AGENTDOCK_DATA": "/d"})
    assert env == {"PATH": "/bin", "AGENTDOCK_DATA": "/d"}
