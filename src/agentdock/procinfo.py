"""What the process table says about other processes: liveness and session membership.

One reader of ``/proc/<pid>/stat`` for the launcher (server pid files), the inbox
watcher (its pid-file lock) and the tests that wait for tmux windows' processes.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["pid_alive", "session_members"]


def _stat_fields(stat_file: Path) -> list[str] | None:
    """The fields after the ``(comm)`` of a ``/proc/<pid>/stat`` file: state first, session id fourth."""
    try:
        return stat_file.read_text().rpartition(")")[2].split()
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    if fields is None:
        return True  # no /proc (not Linux): the signal check is all there is
    return fields[:1] != ["Z"]


def session_members(sessions: set[int]) -> list[int]:
    """Running (not zombie) processes whose session id is in ``sessions``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if fields and fields[0] != "Z" and int(fields[3]) in sessions:
            members.append(int(stat.parent.name))
    return members
