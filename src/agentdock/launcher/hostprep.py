"""Apply a container layout to the host without following a link an agent could have planted.

`prepare_host` runs in two passes.  The first only looks: every project folder the
container will mount (the agent's workspace and inbox, ``.claude/sessions``,
``.agentdock``) is walked component by component from the project root with
``O_NOFOLLOW`` (:mod:`agentdock.safefs`), each top-level overlay target
(``.mcp.json``, ``CLAUDE.md``) is ``lstat``-ed, and anything that is a link, the
wrong kind of file or owned by an unexpected account raises
:class:`~agentdock.launcher.errors.UnsafeHostPath` — before anything is created,
written or handed over.  The second pass creates what is missing (``mkdir``, then
verified through the descriptor it opens), writes the inert stubs with
``O_EXCL|O_NOFOLLOW``, writes the overlays into the agent's private data folder, and
hands the agent's writable folders to the container user when the launcher runs as
root — only what the launcher's own account owns, walked by descriptor
(:func:`agentdock.safefs.hand_over_tree`), never a link, never a multiply-linked file.

`verify_host` runs after the container started: each mounted project folder must still
be the object that was checked (same device and inode), else the caller removes the
container and refuses.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from agentdock import safefs
from agentdock.launcher.errors import TokenError, UnsafeHostPath
from agentdock.launcher.layout import AGENTS_OVERLAY, ContainerLayout
from agentdock.mcphost import AuthError, make_private_dir

__all__ = ["HostState", "prepare_host", "verify_host"]


@dataclass(frozen=True)
class HostState:
    """What `prepare_host` checked: each mounted project folder's identity."""

    root: Path
    identities: dict[str, tuple[int, int]]  # rel -> (st_dev, st_ino)


def _unsafe(exc: safefs.UnsafePathError) -> UnsafeHostPath:
    return UnsafeHostPath(exc.path, exc.reason)


def _allowed_owners(root: Path, uid: int) -> frozenset[int]:
    return frozenset({os.geteuid(), uid, os.stat(root).st_uid})


def _look(root: Path, rel: str, owners: frozenset[int]) -> None:
    """Pass one for a folder: the part that exists must be real folders; the leaf, if there, ours."""
    parts = safefs.relative_parts(rel)
    for depth in range(1, len(parts) + 1):
        sub = "/".join(parts[:depth])
        try:
            with safefs.open_dir(root, sub) as (_fd, handle):
                if depth == len(parts) and handle.uid not in owners:
                    raise UnsafeHostPath(
                        handle.path,
                        f"is owned by uid {handle.uid}, expected one of {', '.join(map(str, sorted(owners)))}",
                    )
        except safefs.UnsafePathError as exc:
            if exc.reason == "does not exist":
                return  # created in pass two
            raise _unsafe(exc) from exc


def _look_file(root: Path, rel: str) -> None:
    try:
        st = (root / rel).lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise UnsafeHostPath(root / rel, f"is {kind}; a mounted file must be a regular file")


def _config_dir(path: Path, owners: frozenset[int]) -> None:
    try:
        make_private_dir(path.parent)
    except AuthError as exc:
        raise TokenError(f"cannot prepare {path.parent}: {exc}") from exc
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        st = path.lstat()
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafeHostPath(path, "is not a directory") from None
        if st.st_uid not in owners:
            raise UnsafeHostPath(path, f"is owned by uid {st.st_uid}") from None


def _write_public_subdirs(layout: ContainerLayout) -> None:
    """Overlay folders (``agents/``): no secrets, readable by the container user, exactly the plan."""
    groups: dict[str, dict[str, str]] = {}
    for name, content in layout.overlays.items():
        if "/" in name:
            sub, _, leaf = name.partition("/")
            groups.setdefault(sub, {})[leaf] = content
    for sub in dict.fromkeys((AGENTS_OVERLAY, *groups)):
        files = groups.get(sub, {})
        with safefs.open_dir(layout.overlay_dir, sub, create=True, mode=0o755) as (fd, _):
            os.fchmod(fd, 0o755)
            with os.scandir(fd) as entries:
                stale = [e.name for e in entries if e.name not in files]
            for name in stale:
                os.unlink(name, dir_fd=fd)
            for name, content in files.items():
                safefs.write_file_atomic(fd, name, content.encode("utf-8"), mode=0o644)


def prepare_host(layout: ContainerLayout, *, uid: int, gid: int) -> HostState:
    """Check (pass one), then create and write (pass two) what ``layout`` needs on the host."""
    root = layout.root
    owners = _allowed_owners(root, uid)
    euid = os.geteuid()
    give = euid == 0 and uid != 0
    for folder in layout.project_dirs:
        _look(root, folder.rel, owners)
    for rel in (*layout.checked, *layout.stubs):
        _look_file(root, rel)

    identities: dict[str, tuple[int, int]] = {}
    try:
        for folder in layout.project_dirs:
            with safefs.open_dir(root, folder.rel, create=True, mode=folder.mode) as (fd, handle):
                if handle.uid not in owners:
                    raise UnsafeHostPath(handle.path, f"is owned by uid {handle.uid}")
                if give and folder.hand_over:
                    safefs.hand_over_tree(fd, uid, gid, from_uids=[euid])
                identities[folder.rel] = (handle.dev, handle.ino)
        with safefs.open_dir(root) as (root_fd, _):
            for rel, content in layout.stubs.items():
                if "/" in rel:
                    raise ValueError(f"stub {rel!r} is not at the project's top level")
                safefs.create_file_excl(root_fd, rel, content.encode("utf-8"))
    except safefs.UnsafePathError as exc:
        raise _unsafe(exc) from exc

    try:
        make_private_dir(layout.overlay_dir)
    except AuthError as exc:
        raise TokenError(f"cannot prepare {layout.overlay_dir}: {exc}") from exc
    with safefs.open_dir(layout.overlay_dir) as (fd, _):
        for name, content in layout.overlays.items():
            if "/" in name:
                continue
            safefs.write_file_atomic(fd, name, content.encode("utf-8"), mode=0o600)
            if give:  # the container user reads its overlays; nobody else can reach this folder
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
    _write_public_subdirs(layout)
    for own in layout.own_dirs:  # e.g. <projects folder>/<agent>: the person's folder, this agent's part
        own.parent.mkdir(parents=True, exist_ok=True)
        try:
            with safefs.open_dir(own.parent, own.name, create=True, owners=owners) as (fd, _):
                if give:
                    safefs.hand_over_tree(fd, uid, gid, from_uids=[euid])
        except safefs.UnsafePathError as exc:
            raise _unsafe(exc) from exc
    _config_dir(layout.config_dir, owners)
    if give:
        with safefs.open_dir(layout.config_dir) as (fd, _):
            safefs.hand_over_tree(fd, uid, gid, from_uids=[euid])
    return HostState(root=root, identities=identities)


def verify_host(state: HostState) -> None:
    """Raise UnsafeHostPath when a checked folder was replaced after `prepare_host` looked at it."""
    for rel, identity in state.identities.items():
        try:
            with safefs.open_dir(state.root, rel) as (_fd, handle):
                now = (handle.dev, handle.ino)
        except safefs.UnsafePathError as exc:
            raise _unsafe(exc) from exc
        if now != identity:
            raise UnsafeHostPath(state.root / rel, "was replaced while the container started")
