"""`agentdock inbox watch` as a real process: output, pid file, log, refusal, SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agentdock.inbox.pidfile import read_pid
from agentdock.paths import run_dir

from .conftest import WAIT_S, task_name, task_text

pytestmark = pytest.mark.slow


class Watcher:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self) -> str:
        try:
            return self.lines.get(timeout=WAIT_S)
        except queue.Empty:
            raise AssertionError(f"no output within {WAIT_S}s (exit code {self.proc.poll()})") from None


def watch_command(root: Path) -> list[str]:
    return [
        sys.executable,
        "-u",
        "-m",
        "agentdock",
        "inbox",
        "watch",
        "--project-root",
        str(root),
        "--no-desktop",
    ]


def child_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE", "DISPLAY", "WAYLAND_DISPLAY"}
    }


@contextmanager
def running_watcher(root: Path) -> Iterator[Watcher]:
    (root / ".claude" / "users").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        watch_command(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        watcher = Watcher(proc)
        assert watcher.next_line().startswith("Watching ")
        yield watcher
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=WAIT_S)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def write_task(root: Path, agent: str, doc_id: str) -> None:
    inbox = root / ".claude" / "users" / agent / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / task_name(doc_id)).write_text(task_text(doc_id, assignee=agent))


def test_watch_announces_pending_and_new_tasks_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    write_task(tmp_path, "qa", "CR-056")
    pid_file = run_dir(tmp_path) / ".inbox-watcher.pid"
    with running_watcher(tmp_path) as watcher:
        assert watcher.next_line() == "[QA] New task: Review CR-056 (from claude)"
        assert read_pid(pid_file) == watcher.proc.pid
        write_task(tmp_path, "tu_ui", "CR-056-VAR-001")
        assert watcher.next_line() == "[TU_UI] New task: Review CR-056-VAR-001 (from claude)"
        watcher.proc.send_signal(signal.SIGTERM)
        assert watcher.proc.wait(timeout=WAIT_S) == 0
    assert not pid_file.exists()
    log = (run_dir(tmp_path) / ".inbox-watcher.log").read_text()
    assert "[TU_UI] New task: Review CR-056-VAR-001 (from claude)" in log
    assert f"watcher {watcher.proc.pid} stopped" in log


def test_a_second_watcher_for_the_same_project_is_refused(tmp_path: Path) -> None:
    with running_watcher(tmp_path) as first:
        second = subprocess.run(
            watch_command(tmp_path),
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            env=child_env(),
            check=False,
        )
        assert second.returncode == 1
        assert f"already running (pid {first.proc.pid}" in second.stderr
        assert first.proc.poll() is None
        assert read_pid(run_dir(tmp_path) / ".inbox-watcher.pid") == first.proc.pid


def test_a_stale_pid_file_from_a_killed_watcher_does_not_block_the_next(tmp_path: Path) -> None:
    with running_watcher(tmp_path) as killed:
        killed.proc.kill()
        killed.proc.wait(timeout=WAIT_S)
    pid_file = run_dir(tmp_path) / ".inbox-watcher.pid"
    assert read_pid(pid_file) == killed.proc.pid  # left behind by SIGKILL
    with running_watcher(tmp_path) as fresh:
        assert read_pid(pid_file) == fresh.proc.pid
        fresh.proc.send_signal(signal.SIGTERM)
        assert fresh.proc.wait(timeout=WAIT_S) == 0


def test_a_malformed_task_is_reported_on_stderr_and_the_watcher_keeps_going(tmp_path: Path) -> None:
    inbox = tmp_path / ".claude" / "users" / "qa" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "task-broken.md").write_text("no front matter\n")
    with running_watcher(tmp_path) as watcher:
        write_task(tmp_path, "qa", "CR-057")
        assert watcher.next_line() == "[QA] New task: Review CR-057 (from claude)"
        watcher.proc.send_signal(signal.SIGTERM)
        assert watcher.proc.wait(timeout=WAIT_S) == 0
        assert watcher.proc.stderr is not None
        err = watcher.proc.stderr.read()
    assert "skipping malformed task file" in err
    assert "task-broken.md" in err


def test_list_prints_the_pending_tasks(tmp_path: Path) -> None:
    write_task(tmp_path, "qa", "CR-056")
    write_task(tmp_path, "bu", "SOP-001")
    listed = subprocess.run(
        [sys.executable, "-m", "agentdock", "inbox", "list", "--project-root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=True,
    )
    assert listed.stdout.splitlines() == [
        "[BU] New task: Review SOP-001 (from claude)",
        "[QA] New task: Review CR-056 (from claude)",
    ]


def test_a_folder_that_is_not_a_project_is_refused_with_advice(tmp_path: Path) -> None:
    refused = subprocess.run(
        watch_command(tmp_path), capture_output=True, text=True, timeout=WAIT_S, env=child_env(), check=False
    )
    assert refused.returncode == 2
    assert "neither QMS/ nor .claude/" in refused.stderr
    assert not (tmp_path / ".claude").exists()
    assert not (tmp_path / ".agentdock").exists()
