"""Process-table reads: liveness treats zombies as ended; session membership finds a session's processes."""

from __future__ import annotations

import os
import subprocess
import sys

from agentdock.procinfo import pid_alive, session_members


def test_this_process_is_alive() -> None:
    assert pid_alive(os.getpid())


def test_a_zombie_counts_as_ended_and_a_reaped_pid_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    # Wait for the exit without reaping, so the child is a zombie.
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid)


def test_session_members_lists_a_running_session_leader_until_it_ends() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, start_new_session=True
    )
    try:
        assert session_members({child.pid}) == [child.pid]
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
    assert session_members({child.pid}) == []
