"""Opening paths an agent may have touched without ever following a link it planted.

Everything here walks a path one component at a time from a trusted anchor
directory (a project root the person chose, agentdock's own data folder), each
step an ``openat`` with ``O_NOFOLLOW``: a symbolic link anywhere below the
anchor fails the walk (:class:`UnsafePathError`) instead of leading somewhere
else, and the caller gets a file descriptor of the very object it checked, so
nothing can be swapped between the check and the use.

Leaf module: imports nothing from agentdock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "DirHandle",
    "UnsafePathError",
    "create_file_excl",
    "ensure_dir",
    "hand_over_tree",
    "open_dir",
    "read_regular_file",
    "relative_parts",
    "write_file_atomic",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIR_FLAGS = os.O_RDONLY | _NOFOLLOW | _DIRECTORY | _CLOEXEC


class UnsafePathError(OSError):
    """A path is not what the caller expects: a link, the wrong kind of file, the wrong owner."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class DirHandle:
    """A directory reached without following links: where, which object, and whether we made it."""

    path: Path
    dev: int
    ino: int
    uid: int
    created: bool


def relative_parts(rel: str | PurePosixPath) -> tuple[str, ...]:
    """The components of a relative path; refuses absolute paths, ``..`` and empty components."""
    text = str(rel)
    if text.startswith("/"):
        raise ValueError(f"{text!r} is not relative")
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise ValueError(f"{text!r} climbs out with '..'")
    return parts


def _describe(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "a special file"


def _open_step(parent_fd: int, name: str, shown: Path) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            try:
                st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
                what = _describe(st.st_mode)
            except OSError:
                what = "not a directory"
            raise UnsafePathError(shown, f"is {what} where a directory is expected") from exc
        raise


@contextmanager
def open_dir(
    anchor: Path,
    rel: str | PurePosixPath = "",
    *,
    create: bool = False,
    mode: int = 0o755,
    owners: frozenset[int] | None = None,
) -> Iterator[tuple[int, DirHandle]]:
    """Yield ``(fd, handle)`` of ``anchor/rel``, walked with ``O_NOFOLLOW`` from ``anchor``.

    ``anchor`` itself is trusted (opened normally); every component below it must be a
    real directory.  ``create`` makes missing components (``mkdir`` then verify with
    ``fstat``).  ``owners``: the uids allowed to own each component below the anchor.
    """
    parts = relative_parts(rel)
    fd = os.open(anchor, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    created = False
    shown = Path(anchor)
    try:
        for name in parts:
            shown = shown / name
            created = False
            if create:
                try:
                    os.mkdir(name, mode, dir_fd=fd)
                    created = True
                except FileExistsError:
                    pass
            try:
                child = _open_step(fd, name, shown)
            except FileNotFoundError as exc:
                raise UnsafePathError(shown, "does not exist") from exc
            os.close(fd)
            fd = child
            st = os.fstat(fd)
            if owners is not None and st.st_uid not in owners:
                raise UnsafePathError(
                    shown, f"is owned by uid {st.st_uid}, expected {' or '.join(map(str, sorted(owners)))}"
                )
        st = os.fstat(fd)
        yield fd, DirHandle(shown, st.st_dev, st.st_ino, st.st_uid, created)
    finally:
        os.close(fd)


def ensure_dir(
    anchor: Path,
    rel: str | PurePosixPath,
    *,
    mode: int = 0o755,
    owners: frozenset[int] | None = None,
) -> DirHandle:
    """Create ``anchor/rel`` if missing and check it (see :func:`open_dir`); returns its handle."""
    with open_dir(anchor, rel, create=True, mode=mode, owners=owners) as (_fd, handle):
        return handle


def read_regular_file(dir_fd: int, name: str, limit: int, shown: Path | str) -> bytes:
    """Read at most ``limit`` bytes of regular file ``name`` in ``dir_fd``, never following a link.

    Raises :class:`UnsafePathError` for a link, a non-regular file or a file over the limit,
    ``FileNotFoundError`` when it is gone.
    """
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(shown, "is a symbolic link") from exc
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(shown, f"is {_describe(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise UnsafePathError(shown, f"is larger than {limit} bytes")
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise UnsafePathError(shown, f"is larger than {limit} bytes")
        return data
    finally:
        os.close(fd)


def create_file_excl(dir_fd: int, name: str, content: bytes, mode: int = 0o644) -> bool:
    """Create ``name`` in ``dir_fd`` with ``content`` unless something (even a link) is there.

    Returns True when it created the file.
    """
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode, dir_fd=dir_fd)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return True


def write_file_atomic(dir_fd: int, name: str, content: bytes, mode: int = 0o600) -> None:
    """Replace ``name`` in ``dir_fd`` atomically (temp file + rename), the new file ``mode``."""
    tmp = f".{name}.tmp{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=dir_fd)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def hand_over_tree(
    dir_fd: int, uid: int, gid: int, *, from_uids: Sequence[int], max_entries: int = 200_000
) -> int:
    """Give ``uid:gid`` what ``from_uids`` own in the tree below ``dir_fd`` (and ``dir_fd`` itself).

    Walked by file descriptor: every sub-directory is opened with ``O_NOFOLLOW`` relative to
    its parent, so a link swapped in mid-walk is skipped, never followed; links themselves
    are not touched; a file with more than one name (a hard link may point at a file outside
    the tree) is skipped, as is anything on another file system.  Returns how many objects
    changed owner.
    """
    owned = frozenset(from_uids)
    root_st = os.fstat(dir_fd)
    changed = 0
    seen = 0

    def visit(fd: int) -> None:
        nonlocal changed, seen
        st = os.fstat(fd)
        if st.st_uid in owned and st.st_uid != uid:
            os.fchown(fd, uid, gid)
            changed += 1
        with os.scandir(fd) as entries:
            names = [(e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in entries]
        for name, is_dir, is_link in names:
            seen += 1
            if seen > max_entries or is_link:
                continue
            if is_dir:
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # gone, or swapped for a link: not ours to follow
                try:
                    if os.fstat(child).st_dev == root_st.st_dev:
                        visit(child)
                finally:
                    os.close(child)
                continue
            try:
                est = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISREG(est.st_mode) or est.st_uid not in owned or est.st_uid == uid:
                    continue
                # decide on the object itself: opened without following, checked, then changed
                ffd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=fd)
            except OSError:
                continue
            try:
                fst = os.fstat(ffd)
                if stat.S_ISREG(fst.st_mode) and fst.st_nlink == 1 and fst.st_dev == root_st.st_dev:
                    os.fchown(ffd, uid, gid)
                    changed += 1
            except OSError:
                pass
            finally:
                os.close(ffd)

    visit(dir_fd)
    return changed
