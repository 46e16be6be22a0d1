from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentdock.inbox.errors import WatcherAlreadyRunning
from agentdock.inbox.pidfile import PidFile, read_pid


def test_holding_the_pid_file_writes_our_pid_and_releasing_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "run" / ".inbox-watcher.pid"
    with PidFile(path):
        assert read_pid(path) == os.getpid()
    assert not path.exists()


def test_a_second_holder_is_refused_while_the_first_holds_it(tmp_path: Path) -> None:
    path = tmp_path / ".inbox-watcher.pid"
    with PidFile(path):
        with pytest.raises(WatcherAlreadyRunning) as refused:
            PidFile(path).acquire()
        assert refused.value.pid == os.getpid()
        assert str(os.getpid()) in str(refused.value)
        assert read_pid(path) == os.getpid()  # the refusal changed nothing


def test_a_pid_file_left_by_a_dead_owner_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / ".inbox-watcher.pid"
    path.write_text("999999999\n")
    with PidFile(path):
        assert read_pid(path) == os.getpid()


def test_the_pid_file_can_be_taken_again_after_release(tmp_path: Path) -> None:
    path = tmp_path / ".inbox-watcher.pid"
    first = PidFile(path)
    first.acquire()
    first.release()
    with PidFile(path):
        assert read_pid(path) == os.getpid()
