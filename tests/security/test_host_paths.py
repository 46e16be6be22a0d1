"""Attacks on the host through paths an agent can plant: the launcher and the inbox watcher.

Threat: a prompt-injected agent (or a commit someone pushed) leaves a symbolic link, a file
or a foreign-owned folder where the launcher will create, hand over or bind-mount a folder,
or where the inbox watcher reads a task.  Each attack asserts the refusal (a clear message,
nothing announced) *and* that nothing changed on disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentdock import paths
from agentdock.inbox.notifiers import DesktopNotifier, StreamNotifier
from agentdock.inbox.tasks import MAX_DISPLAY_CHARS, Task, display_text, parse_task, read_task_file
from agentdock.inbox.watcher import InboxWatcher, WatcherConfig, iter_task_paths
from agentdock.launcher import UnsafeHostPath
from agentdock.launcher.hostprep import prepare_host
from agentdock.launcher.layout import LayoutSpec, plan_layout
from agentdock.procs import CommandResult

HOST_SECRET = "HOST-SECRET-3f9a1c"  # content of host files an attack tries to reach


def _make_project(root: Path) -> Path:
    paths.qms_dir(root).mkdir(parents=True)
    paths.agents_dir(root).mkdir(parents=True)
    for agent in ("claude", "qa"):
        (paths.agents_dir(root) / f"{agent}.md").write_text(f"---\nname: {agent}\n---\n# {agent}\n")
    return root


def _snapshot(*folders: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every entry under ``folders`` (not following links): mode, owner, size, content hash or link."""
    seen: dict[str, tuple[int, int, int, str]] = {}
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in [*dirnames, *filenames, ""]:
                path = Path(dirpath) / name
                st = path.lstat()
                if path.is_symlink():
                    what = "->" + os.readlink(path)
                elif path.is_file():
                    what = hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    what = "dir"
                seen[str(path)] = (st.st_mode, st.st_uid, st.st_size, what)
    return seen


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(project root, a host folder outside it holding a secret file)."""
    root = _make_project(tmp_path / "proj")
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "secret.txt").write_text(HOST_SECRET)
    yield root, outside


def _plant_link(root: Path, rel: str, target: Path) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


#: Every project path the launcher creates, hands over or mounts, at every depth.
LINK_POSITIONS = [
    ".claude/users/qa/workspace",
    ".claude/users/qa/inbox",
    ".claude/users/qa",
    ".claude/users",
    ".claude/sessions/qa",
    ".claude/sessions",
    ".claude",
    ".agentdock",
]


@pytest.mark.parametrize("rel", LINK_POSITIONS)
def test_a_link_planted_where_the_launcher_mounts_a_folder_refuses_and_changes_nothing(
    planted: tuple[Path, Path], rel: str
) -> None:
    root, outside = planted
    if rel == ".claude":  # the real folder moves outside; the project keeps only a link to it
        shutil.move(root / ".claude", outside / "dotclaude")
        _plant_link(root, rel, outside / "dotclaude")
    else:
        _plant_link(root, rel, outside)
    before = _snapshot(root, outside)
    with pytest.raises(UnsafeHostPath) as refused:
        layout = plan_layout(LayoutSpec(root, "qa", "adk_t"))
        prepare_host(layout, uid=4242, gid=4242)
    message = str(refused.value)
    assert "refusing to launch" in message and "symbolic link" in message
    assert str(root / rel) in message
    assert _snapshot(root, outside) == before
    assert not paths.agent_overlay_dir(root, "qa").exists()  # nothing written in the data folder either


@pytest.mark.parametrize("rel", [".mcp.json", "CLAUDE.md"])
def test_a_link_at_a_mounted_file_refuses_even_when_it_dangles(planted: tuple[Path, Path], rel: str) -> None:
    root, outside = planted
    victim = outside / "would-be-created"
    (root / rel).symlink_to(victim)
    before = _snapshot(root, outside)
    with pytest.raises(UnsafeHostPath, match="symbolic link"):
        prepare_host(plan_layout(LayoutSpec(root, "qa", "adk_t")), uid=4242, gid=4242)
    assert not victim.exists() and _snapshot(root, outside) == before


def test_a_file_where_the_workspace_folder_belongs_refuses(planted: tuple[Path, Path]) -> None:
    root, _ = planted
    (root / ".claude/users/qa").mkdir(parents=True)
    (root / ".claude/users/qa/workspace").write_text("not a folder")
    with pytest.raises(UnsafeHostPath, match="regular file where a directory is expected"):
        prepare_host(plan_layout(LayoutSpec(root, "qa", "adk_t")), uid=4242, gid=4242)


@pytest.mark.skipif(os.geteuid() != 0, reason="planting a foreign-owned folder needs root (CI runs as root)")
def test_a_workspace_owned_by_another_account_refuses(planted: tuple[Path, Path]) -> None:
    root, _ = planted
    workspace = root / ".claude/users/qa/workspace"
    workspace.mkdir(parents=True)
    os.chown(workspace, 31337, 31337)
    with pytest.raises(UnsafeHostPath, match="owned by uid 31337"):
        prepare_host(plan_layout(LayoutSpec(root, "qa", "adk_t")), uid=4242, gid=4242)
    assert workspace.stat().st_uid == 31337


@pytest.mark.skipif(os.geteuid() != 0, reason="handing folders over needs root (CI runs as root)")
def test_handing_the_workspace_over_never_changes_the_owner_of_a_linked_or_hard_linked_host_file(
    planted: tuple[Path, Path],
) -> None:
    root, outside = planted
    secret = outside / "secret.txt"
    workspace = root / ".claude/users/qa/workspace"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "draft.md").write_text("mine")
    (workspace / "sub" / "link").symlink_to(secret)
    (workspace / "dirlink").symlink_to(outside)
    os.link(secret, workspace / "hard")
    prepare_host(plan_layout(LayoutSpec(root, "qa", "adk_t")), uid=4242, gid=4242)
    assert (workspace / "draft.md").stat().st_uid == 4242 and workspace.stat().st_uid == 4242
    assert secret.stat().st_uid == 0 and outside.stat().st_uid == 0
    assert (root / ".claude/users/qa/inbox").stat().st_uid == 0  # read-only in the container: not handed over


# -- the inbox watcher -----------------------------------------------------------------------------


def _task_text(title: str = "Title", doc_id: str = "CR-056") -> str:
    return (
        "---\n"
        f"task_id: task-{doc_id}-REVIEW-v0-1\n"
        "task_type: REVIEW\n"
        "workflow_type: REVIEW\n"
        f"doc_id: {doc_id}\n"
        f"title: {title}\n"
        "responsible_user: qa\n"
        "assigned_by: claude\n"
        "assigned_date: '2025-01-02T03:04:05Z'\n"
        "version: '0.1'\n"
        "---\n"
        "Review it.\n"
    )


def _secret_task(outside: Path) -> Path:
    """A host file that parses as a task, so only the link check can keep it out."""
    secret = outside / "task-secret.md"
    secret.write_text(_task_text(title=HOST_SECRET, doc_id="CR-999"))
    return secret


def _run_watcher_once(root: Path, caplog: pytest.LogCaptureFixture) -> list[Task]:
    seen: list[Task] = []
    config = WatcherConfig(root, settle_s=0.0, rescan_s=None)
    import threading

    done = threading.Event()
    with InboxWatcher(config, lambda t: (seen.append(t), done.set())):
        (root / ".claude/users/qa/inbox").mkdir(parents=True, exist_ok=True)
        control = root / ".claude/users/qa/inbox" / "task-CR-001-REVIEW-v0-1.md"
        control.write_text(_task_text(doc_id="CR-001"))
        assert done.wait(20), "the control task was never announced"
    return seen


def test_the_watcher_ignores_a_task_file_linked_to_a_host_file_and_never_prints_it(
    planted: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    root, outside = planted
    inbox = root / ".claude/users/qa/inbox"
    inbox.mkdir(parents=True)
    (inbox / "task-CR-999-REVIEW-v0-1.md").symlink_to(_secret_task(outside))
    caplog.set_level("DEBUG")
    seen = _run_watcher_once(root, caplog)
    assert [t.doc_id for t in seen] == ["CR-001"]  # the control task, nothing from the link
    assert HOST_SECRET not in caplog.text
    with pytest.raises(Exception, match="symbolic link"):
        read_task_file(inbox / "task-CR-999-REVIEW-v0-1.md", "qa", root=root)


@pytest.mark.parametrize("linked", ["inbox", "agent"])
def test_a_linked_inbox_or_agent_folder_is_not_followed(
    planted: tuple[Path, Path], caplog: pytest.LogCaptureFixture, linked: str
) -> None:
    root, outside = planted
    _secret_task(outside)
    if linked == "inbox":
        _plant_link(root, ".claude/users/bu/inbox", outside)
    else:
        (outside / "inbox").mkdir()
        _secret_task(outside / "inbox")
        _plant_link(root, ".claude/users/bu", outside)
    assert list(iter_task_paths(root)) == []
    caplog.set_level("DEBUG")
    seen = _run_watcher_once(root, caplog)
    assert [t.doc_id for t in seen] == ["CR-001"]
    assert HOST_SECRET not in caplog.text


def test_inbox_list_skips_a_linked_task_without_printing_the_host_file(planted: tuple[Path, Path]) -> None:
    root, outside = planted
    inbox = root / ".claude/users/qa/inbox"
    inbox.mkdir(parents=True)
    (inbox / "task-CR-999-REVIEW-v0-1.md").symlink_to(_secret_task(outside))
    (inbox / "task-CR-001-REVIEW-v0-1.md").write_text(_task_text(doc_id="CR-001"))
    done = subprocess.run(
        [sys.executable, "-m", "agentdock", "inbox", "list", "--project-root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[QA] New task: Review CR-001 (from claude)"]
    assert HOST_SECRET not in done.stdout + done.stderr


def test_a_fifo_named_like_a_task_neither_blocks_nor_is_read(planted: tuple[Path, Path]) -> None:
    root, _ = planted
    inbox = root / ".claude/users/qa/inbox"
    inbox.mkdir(parents=True)
    os.mkfifo(inbox / "task-CR-002-REVIEW-v0-1.md")
    with pytest.raises(Exception, match="not a regular file"):
        read_task_file(inbox / "task-CR-002-REVIEW-v0-1.md", "qa", root=root)


ANSI_TITLE = r'"\e]0;pwned\a\e[2J\e[31mRED\u202e\r\nline2"'


def _recording_runner() -> tuple[list[list[str]], Callable[..., CommandResult]]:
    calls: list[list[str]] = []

    def run(args: Any) -> CommandResult:
        calls.append(list(args))
        return CommandResult(0, "", "")

    return calls, run


def test_a_title_with_terminal_escapes_is_shown_escaped_and_bounded(planted: tuple[Path, Path]) -> None:
    root, _ = planted
    inbox = root / ".claude/users/qa/inbox"
    inbox.mkdir(parents=True)
    (inbox / "task-CR-003-REVIEW-v0-1.md").write_text(_task_text(title=ANSI_TITLE, doc_id="CR-003"))
    task = read_task_file(inbox / "task-CR-003-REVIEW-v0-1.md", "qa", root=root)
    assert "\x1b" in task.title  # parsed as written...
    calls, run = _recording_runner()
    DesktopNotifier("notify-send", run).notify(task)
    out = io.StringIO()
    StreamNotifier(out).notify(task)
    shown = " ".join(calls[0]) + out.getvalue()
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert "\u202e" not in shown
    assert r"\x1b]0;pwned\x07\x1b[2J\x1b[31mRED\u202e\x0d\x0aline2" in calls[0][-1]  # ...shown escaped
    long_task = parse_task(_task_text(title="x" * 10_000), "qa")
    _, run_long = _recording_runner()
    assert len(DesktopNotifier("notify-send", run_long).command(long_task)[-1]) < MAX_DISPLAY_CHARS + 100


@given(st.text(max_size=500), st.integers(min_value=1, max_value=300))
def test_display_text_never_lets_a_control_or_format_character_through(text: str, limit: int) -> None:
    import unicodedata

    shown = display_text(text, limit)
    assert len(shown) <= limit
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Co", "Cs"} for c in shown)
