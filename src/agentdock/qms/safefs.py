"""Every QMS file access, made without following a link an agent could have planted.

:class:`SafeRoot` is the project root opened once (the person chose it, so the root
itself is trusted).  Every path below it is reached by walking its components from a
directory descriptor with ``O_NOFOLLOW | O_DIRECTORY`` (``openat``), and the file itself is
opened with ``O_NOFOLLOW`` and must be a regular file (``fstat`` after ``open``).  A symlink
anywhere below the root, a directory where a file belongs, or a path outside the root is
refused with :class:`~agentdock.qms.errors.UnsafePath` — decided at the moment of use, not
beforehand as text, so there is nothing to swap in between.

Writes are atomic (temporary file created ``O_EXCL | O_NOFOLLOW`` in the target's directory,
``fsync``, ``rename`` inside that directory, ``fsync`` of the directory); ``rename`` replaces a
link at the final component rather than following it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from agentdock.qms.errors import UnsafePath

__all__ = ["SafeRoot"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LINK_ERRNOS = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)


class SafeRoot:
    """Symlink-proof reads and writes of files under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- paths ----------------------------------------------------------------------------------------
    def parts(self, path: Path | str) -> tuple[str, ...]:
        """``path`` (absolute under the root, or relative to it) as checked components."""
        candidate = Path(path)
        if candidate.is_absolute():
            try:
                candidate = candidate.relative_to(self.root)
            except ValueError:
                raise UnsafePath(f"{path} is outside the project root", rule="path.outside") from None
        parts = PurePosixPath(candidate.as_posix()).parts
        if not parts or any(p in ("", ".", "..") or "\x00" in p or "/" in p for p in parts):
            raise UnsafePath(f"{path!s} is not a plain path below the project root", rule="path.outside")
        return tuple(parts)

    # -- directories ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def directory(self, parts: tuple[str, ...], *, create: bool = False) -> Iterator[int | None]:
        """A descriptor of the folder ``parts`` (None if missing and not ``create``)."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for index, name in enumerate(parts):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        fd = -1
                        yield None
                        return
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, 0o755, dir_fd=fd)
                    child = self._open_dir(name, fd, parts[: index + 1])
                except OSError as exc:
                    raise self._refusal(parts[: index + 1], exc) from exc
                os.close(fd)
                fd = child
            yield fd
        finally:
            if fd >= 0:
                os.close(fd)

    def _open_dir(self, name: str, fd: int, shown: tuple[str, ...]) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            raise self._refusal(shown, exc) from exc

    def _refusal(self, parts: tuple[str, ...], exc: OSError) -> UnsafePath:
        shown = "/".join(parts)
        if exc.errno in _LINK_ERRNOS:
            return UnsafePath(
                f"{shown} is a symbolic link or not a directory; the QMS never follows links",
                rule="path.symlink",
            )
        return UnsafePath(f"{shown} cannot be opened: {exc.strerror}", rule="path.unreadable")

    # -- reading --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _regular(self, path: Path | str) -> Iterator[tuple[int | None, tuple[str, ...]]]:
        """An fd on the regular file at ``path`` opened without following a link (None if absent)."""
        parts = self.parts(path)
        with self.directory(parts[:-1]) as folder:
            if folder is None:
                yield None, parts
                return
            try:
                fd = os.open(
                    parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder
                )
            except FileNotFoundError:
                yield None, parts
                return
            except OSError as exc:
                raise self._refusal(parts, exc) from exc
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise UnsafePath(f"{'/'.join(parts)} is not a regular file", rule="path.not-file")
                yield fd, parts
            finally:
                os.close(fd)

    def read_bytes(self, path: Path | str, *, limit: int | None = None) -> bytes | None:
        """The file's bytes, None if it (or a folder above it) does not exist."""
        with self._regular(path) as (fd, parts):
            if fd is None:
                return None
            size = os.fstat(fd).st_size
            if limit is not None and size > limit:
                raise UnsafePath(f"{'/'.join(parts)} is {size} bytes; the limit is {limit}", rule="path.size")
            chunks = []
            remaining = (limit + 1) if limit is not None else -1
            while True:
                chunk = os.read(fd, 1 << 20 if remaining < 0 else min(1 << 20, remaining))
                if not chunk:
                    break
                chunks.append(chunk)
                if remaining >= 0:
                    remaining -= len(chunk)
                    if remaining <= 0:
                        break
            data = b"".join(chunks)
            if limit is not None and len(data) > limit:
                raise UnsafePath(f"{'/'.join(parts)} grew past the {limit} byte limit", rule="path.size")
            return data

    def read_head(self, path: Path | str, size: int) -> bytes | None:
        """At most the first ``size`` bytes of a regular file (None if absent)."""
        with self._regular(path) as (fd, _):
            return None if fd is None else os.read(fd, size)

    def read_text(self, path: Path | str, *, limit: int | None = None) -> str | None:
        data = self.read_bytes(path, limit=limit)
        return None if data is None else data.decode("utf-8")

    def kind(self, path: Path | str) -> str | None:
        """``"file"``, ``"dir"``, ``"link"``, ``"other"`` for the entry itself, None if absent.

        A link in a folder *above* the entry raises :class:`UnsafePath`."""
        parts = self.parts(path)
        with self.directory(parts[:-1]) as folder:
            if folder is None:
                return None
            try:
                info = os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
            except FileNotFoundError:
                return None
        if stat.S_ISREG(info.st_mode):
            return "file"
        if stat.S_ISDIR(info.st_mode):
            return "dir"
        return "link" if stat.S_ISLNK(info.st_mode) else "other"

    def is_file(self, path: Path | str) -> bool:
        """A regular file, reached without a link (a link anywhere on the way is False)."""
        try:
            return self.kind(path) == "file"
        except UnsafePath:
            return False

    def listdir(self, path: Path | str) -> list[str]:
        """Names in a folder (empty if it does not exist); the folder is reached without links."""
        with self.directory(self.parts(path)) as folder:
            return [] if folder is None else sorted(os.listdir(folder))

    def check_target(self, path: Path | str) -> None:
        """Refuse now, before anything is written, a write target that could redirect the write:
        a link or non-folder on the way, or a link, folder or device where the file goes."""
        found = self.kind(path)
        if found not in (None, "file"):
            raise UnsafePath(
                f"{'/'.join(self.parts(path))} is a {'symbolic link' if found == 'link' else found}, "
                "not a regular file; the QMS will not write through it",
                rule="path.symlink" if found == "link" else "path.not-file",
            )

    # -- writing --------------------------------------------------------------------------------------
    def write_bytes(self, path: Path | str, data: bytes, *, mode: int = 0o644, sync_dir: bool = True) -> None:
        """Replace the file atomically; missing folders are created, links are never followed.

        ``sync_dir=False`` leaves the directory's ``fsync`` to the caller (:meth:`fsync_dir`), for a
        batch of writes whose journal stays until the batch is flushed."""
        parts = self.parts(path)
        with self.directory(parts[:-1], create=True) as folder:
            assert folder is not None
            name = parts[-1]
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISDIR(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
                    raise UnsafePath(f"{'/'.join(parts)} is a directory", rule="path.not-file")
            tmp = f".{name[:40]}.{secrets.token_hex(6)}.tmp"
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=folder
            )
            try:
                try:
                    os.fchmod(fd, mode)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=folder)
                raise
            if sync_dir:
                os.fsync(folder)

    def write_text(self, path: Path | str, text: str, *, mode: int = 0o644, sync_dir: bool = True) -> None:
        self.write_bytes(path, text.encode("utf-8"), mode=mode, sync_dir=sync_dir)

    def fsync_dir(self, path: Path | str) -> None:
        """Flush a folder's entries (renames, new and removed files); a missing folder is skipped."""
        with self.directory(self.parts(path)) as folder:
            if folder is not None:
                os.fsync(folder)

    def append_line(self, path: Path | str, line: str) -> None:
        """Append one line durably (``O_APPEND``, ``fsync``); the file must be regular."""
        if "\n" in line:
            raise ValueError("append_line takes a single line")
        parts = self.parts(path)
        with self.directory(parts[:-1], create=True) as folder:
            assert folder is not None
            try:
                fd = os.open(
                    parts[-1],
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o644,
                    dir_fd=folder,
                )
            except OSError as exc:
                raise self._refusal(parts, exc) from exc
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise UnsafePath(f"{'/'.join(parts)} is not a regular file", rule="path.not-file")
                os.write(fd, (line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def truncate(self, path: Path | str, size: int) -> None:
        parts = self.parts(path)
        with self.directory(parts[:-1]) as folder:
            if folder is None:
                return
            fd = os.open(parts[-1], os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise UnsafePath(f"{'/'.join(parts)} is not a regular file", rule="path.not-file")
                os.ftruncate(fd, size)
                os.fsync(fd)
            finally:
                os.close(fd)

    def unlink(self, path: Path | str, *, sync_dir: bool = True) -> None:
        """Remove the entry (a link is removed itself, never its target); absent is fine."""
        parts = self.parts(path)
        with self.directory(parts[:-1]) as folder:
            if folder is None:
                return
            try:
                os.unlink(parts[-1], dir_fd=folder)
            except FileNotFoundError:
                return
            except IsADirectoryError as exc:
                raise UnsafePath(f"{'/'.join(parts)} is a directory", rule="path.not-file") from exc
            except OSError as exc:
                if exc.errno in (errno.EISDIR, errno.EPERM):
                    raise UnsafePath(f"{'/'.join(parts)} is a directory", rule="path.not-file") from exc
                raise
            if sync_dir:
                os.fsync(folder)

    def rmdir(self, path: Path | str) -> None:
        """Remove an empty folder; a missing or non-empty one is left alone."""
        parts = self.parts(path)
        with self.directory(parts[:-1]) as folder:
            if folder is None:
                return
            with contextlib.suppress(OSError):
                os.rmdir(parts[-1], dir_fd=folder)

    def move(self, source: Path | str, target: Path | str) -> None:
        """Rename an entry (never following a link) into another folder under the root."""
        src, dst = self.parts(source), self.parts(target)
        with self.directory(src[:-1]) as a, self.directory(dst[:-1], create=True) as b:
            if a is None:
                raise FileNotFoundError(str(source))
            assert b is not None
            os.rename(src[-1], dst[-1], src_dir_fd=a, dst_dir_fd=b)
            os.fsync(a)
            os.fsync(b)

    def chown_like_folder(self, path: Path | str) -> None:
        """Give the file its folder's owner (used as root for files written into a workspace)."""
        parts = self.parts(path)
        with self.directory(parts[:-1]) as folder:
            if folder is None:
                return
            owner = os.fstat(folder)
            mine = os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
            if not stat.S_ISREG(mine.st_mode):
                return
            if (mine.st_uid, mine.st_gid) != (owner.st_uid, owner.st_gid):
                os.chown(parts[-1], owner.st_uid, owner.st_gid, dir_fd=folder, follow_symlinks=False)
