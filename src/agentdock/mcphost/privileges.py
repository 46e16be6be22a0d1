"""No root where it is not needed: a server started as root becomes the project's owner.

:func:`drop_privileges` runs after the server has bound its sockets and before it opens
any project file:

* not root: nothing changes; the start-up line names the uid.
* root with ``--allow-root``: stays root and says so.
* root, project owned by another user: the server's private state folder
  (``<root>/.agentdock``, never visible to agents) is handed to that user where a root
  process created it (``lchown``, no symlink followed), then ``setgroups([])``,
  ``setgid``, ``setuid`` to the owner, verified (ids read back, ``setuid(0)`` must fail);
  ``HOME``/``USER``/``LOGNAME`` follow, so git and everything else the server starts run
  as the owner and every file the server creates belongs to the owner.
* root, project owned by root: there is no one to become, so the server refuses to start
  (:class:`PrivilegeError`) unless ``--allow-root``.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterable, MutableMapping
from pathlib import Path

from agentdock.mcphost.errors import PrivilegeError

__all__ = ["PrivilegeError", "drop_privileges", "hand_over"]


def hand_over(folder: Path, uid: int, gid: int) -> int:
    """``lchown`` every root-owned entry of ``folder`` (itself included) to ``uid:gid``; return the count.

    Symbolic links are never followed and a symlinked ``folder`` is left alone.
    """
    try:
        top = os.lstat(folder)
    except FileNotFoundError:
        return 0
    if not stat.S_ISDIR(top.st_mode):
        return 0
    changed = 0

    def take(path: str) -> None:
        nonlocal changed
        info = os.lstat(path)
        if info.st_uid == 0:
            os.chown(path, uid, gid, follow_symlinks=False)
            changed += 1

    take(str(folder))
    for base, dirs, files in os.walk(folder, followlinks=False):
        for name in (*dirs, *files):
            take(os.path.join(base, name))
    return changed


#: Variables that point into root's home; the owner gets its own defaults instead.
_ROOT_PATHS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR")


def _owner_env(uid: int, environ: MutableMapping[str, str]) -> None:
    for name in _ROOT_PATHS:
        environ.pop(name, None)
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:  # a numeric uid without a passwd entry: no home to point at
        environ.pop("HOME", None)
        environ["USER"] = environ["LOGNAME"] = str(uid)
        return
    environ["HOME"] = entry.pw_dir
    environ["USER"] = environ["LOGNAME"] = entry.pw_name


def drop_privileges(
    root: Path,
    *,
    allow_root: bool,
    hand_over_folders: Iterable[Path] = (),
    environ: MutableMapping[str, str] | None = None,
) -> str:
    """Become the owner of ``root`` when running as root; return the start-up line's wording."""
    env = os.environ if environ is None else environ
    if os.geteuid() != 0:
        return f"running as uid {os.geteuid()} gid {os.getegid()} (not root)"
    if allow_root:
        return "running as root (--allow-root): files it creates are owned by root"
    info = os.stat(root)
    uid, gid = info.st_uid, info.st_gid
    if uid == 0:
        raise PrivilegeError(
            f"refusing to run as root: the project {root} is owned by root, so there is no unprivileged "
            "owner to become; chown the project to the user it belongs to, run the server as that user, "
            "or pass --allow-root (AGENTDOCK_ALLOW_ROOT=1)"
        )
    for folder in hand_over_folders:
        hand_over(folder, uid, gid)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) != (uid, uid, gid, gid) or any(
        g != gid for g in os.getgroups()
    ):
        raise PrivilegeError(f"dropping root did not hold: uid/gid are {os.getresuid()}/{os.getresgid()}")
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise PrivilegeError("dropping root did not hold: setuid(0) succeeded afterwards")
    _owner_env(uid, env)
    return f"dropped root: running as uid {uid} gid {gid}, the owner of {root}"
