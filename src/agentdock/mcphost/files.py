"""Durable file primitives shared by ``agentdock.mcphost`` and ``agentdock.qms``.

* :func:`atomic_write_bytes` / :func:`atomic_write_text`: write a temporary file
  in the same directory, ``fsync`` it, ``rename`` it over the target and
  ``fsync`` the directory — a reader sees the old content or the new, never a
  mix, even if the process is killed half-way.
* :func:`file_lock`: an exclusive ``fcntl.flock`` on a lock file, so several
  processes (the CLI and a server) serialise on one resource.  The kernel drops
  the lock when the holder dies, so a killed process never leaves it held.
  :func:`acquire_lock` / :func:`release_lock` are the same split in two, for a
  caller that takes the lock in a worker thread and releases it elsewhere.
* :func:`append_line`: append one line with ``O_APPEND`` and ``fsync``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "acquire_lock",
    "append_line",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_lock",
    "fsync_dir",
    "release_lock",
]


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename or a new file) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename, fsync dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def append_line(path: Path, line: str) -> None:
    """Append ``line`` (a newline is added) durably; creates the file if absent."""
    if "\n" in line:
        raise ValueError("append_line takes a single line")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def acquire_lock(lock_path: Path, *, on_wait: Callable[[], None] | None = None) -> int:
    """Block until ``lock_path`` is exclusively locked; returns the descriptor for :func:`release_lock`.

    ``on_wait`` is called (once, before blocking) when another holder has the lock.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_lock(fd: int) -> None:
    """Release a lock taken with :func:`acquire_lock` (closing the descriptor drops the flock)."""
    os.close(fd)


@contextlib.contextmanager
def file_lock(lock_path: Path, *, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive cross-process lock on ``lock_path`` (created if absent) for the block."""
    fd = acquire_lock(lock_path, on_wait=on_wait)
    try:
        yield
    finally:
        release_lock(fd)
