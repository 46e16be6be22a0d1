"""The second line: each git step runs in a bubblewrap sandbox where protected zones are not there.

The policy is the first line; this module assumes it will one day admit something it should
not, and asks the kernel to hold the line instead.  Per step, :func:`plan_mounts` decides
(from the disk, at the moment of use) and :func:`bwrap_argv` spells out:

* an empty root; ``/usr`` (and the ``/lib*``, ``/bin`` links) read-only, a minimal ``/etc``
  (``passwd``, ``group``, ``nsswitch.conf``; plus resolver, certificates and ssh config for
  network steps), a private ``/tmp``, ``/proc`` and a minimal ``/dev``;
* the project read-write, then on top of it read-only: ``.git/config``, ``.git/hooks``,
  ``.git/info``, ``.git/modules``, ``QMS/`` and ``.claude/`` (agent definitions, settings,
  commands: what other agents execute) — except the caller's own ``.claude/sessions/<caller>``
  and ``.claude/users/<caller>/workspace``, read-write again;
* masked with an empty tmpfs: ``.agentdock/``, every other agent's folder and the caller's
  own ``container/`` (a zone that holds tracked files is kept read-only instead and only its
  sub-folders without tracked files are masked: hiding a tracked file would show git a deletion,
  and tracked content is readable from the object store anyway);
* nothing else of the host: not the home directory, not agentdock's per-user data directory, not
  the server's ``/tmp``; the gateway's own :class:`~agentdock.gitgate.hardening.GitHome`
  read-only (hooks directory and identity file);
* new user, pid, ipc, uts, cgroup and network namespaces (``--unshare-all``); the host network
  only for steps that talk to a remote (``--share-net``), which also see configured local
  remotes, ``~/.ssh`` read-only and the ssh-agent socket; ``--die-with-parent``,
  ``--new-session``, every capability dropped and an unprivileged uid inside.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentdock import paths

__all__ = ["NOBODY", "MountPlan", "base_args", "bwrap_argv", "plan_mounts", "system_mounts", "zones"]

#: host paths every step sees read-only (when present)
_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
_ETC_BASE = ("/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/localtime")
_ETC_NETWORK = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/ssh",
)
#: uid/gid the sandbox reports inside when the outer process is root (capabilities are then dropped)
NOBODY = 65534


@dataclass(frozen=True)
class MountPlan:
    root: Path
    git_dirs: tuple[Path, ...]  #: repository directories outside the root (linked worktrees)
    read_only: tuple[Path, ...]
    read_write_again: tuple[Path, ...]
    masked: tuple[Path, ...]
    extra_read_only: tuple[Path, ...] = ()
    extra_read_write: tuple[Path, ...] = ()
    network: bool = False


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _exists(path: Path) -> bool:
    try:
        os.lstat(path)
    except OSError:
        return False
    return True


def _plain(path: Path, root: Path) -> bool:
    """``path`` exists and no component of it below ``root`` (itself included) is a symbolic link.

    Only such paths are bound: bwrap follows a link in a source path, so a link planted in a
    zone could otherwise bring a host path into the sandbox.  A link left unbound resolves
    inside the sandbox, where only what is mounted exists.
    """
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    current = root
    for part in parts:
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return False
        except OSError:
            return False
    return True


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def zones(root: Path, caller: str | None) -> list[Path]:
    """Folders masked for ``caller``: agentdock state, other agents' folders, the caller's container/."""
    found = [paths.state_dir(root)]
    users = paths.users_dir(root)
    if _is_dir(users) and _plain(users, root):
        for entry in sorted(users.iterdir()):
            if entry.name != caller:
                found.append(entry)
    if caller is not None:
        found.append(paths.legacy_agent_container_dir(root, caller))
    return found


def plan_mounts(
    root: Path,
    git_dir: Path,
    caller: str | None,
    tracked: Iterable[str],
    *,
    network: bool = False,
    local_remotes: Sequence[Path] = (),
    home: Path | None = None,
) -> MountPlan:
    """What the sandbox of one step binds, decided from the disk now (``tracked``: paths git tracks)."""
    tracked_paths = [root / t for t in tracked]
    common = git_dir
    commondir_file = git_dir / "commondir"
    if commondir_file.is_file():
        common = (git_dir / commondir_file.read_text(encoding="utf-8").strip()).resolve()
    git_dirs = tuple(d for d in dict.fromkeys((git_dir, common)) if not _under(d, root))
    read_only: list[Path] = []
    for repo_dir in dict.fromkeys((common, git_dir)):
        base = repo_dir if _under(repo_dir, root) else repo_dir.parent
        for name in ("config", "config.worktree", "hooks", "info", "modules"):
            if _plain(repo_dir / name, base):
                read_only.append(repo_dir / name)
    for protected in (paths.qms_dir(root), root / ".claude"):
        if _plain(protected, root):
            read_only.append(protected)
    again: list[Path] = []
    notes = paths.sessions_dir(root) / caller if caller is not None else None
    if notes is not None and _is_dir(notes) and _plain(notes, root):
        again.append(notes)  # the caller's own session notes: it writes them in its container too
    workspace = paths.agent_workspace_dir(root, caller) if caller is not None else None
    if workspace is not None and _is_dir(workspace) and _plain(workspace, root):
        again.append(workspace)
    masked: list[Path] = []
    for zone in zones(root, caller):
        if not _plain(zone, root):
            continue  # absent, or a link: resolves inside the sandbox, never bound
        if not _is_dir(zone):
            read_only.append(zone)  # a file where a folder should be: visible, never writable
            continue
        if not any(_under(t, zone) for t in tracked_paths):
            masked.append(zone)
            continue
        read_only.append(zone)
        for child in sorted(zone.iterdir()):
            if _is_dir(child) and _plain(child, root) and not any(_under(t, child) for t in tracked_paths):
                masked.append(child)
    extra_ro: list[Path] = []
    extra_rw: list[Path] = []
    if network:
        extra_rw.extend(local_remotes)
        if home is not None and _is_dir(home / ".ssh"):
            extra_ro.append(home / ".ssh")
    return MountPlan(
        root=root,
        git_dirs=git_dirs,
        read_only=tuple(read_only),
        read_write_again=tuple(again),
        masked=tuple(masked),
        extra_read_only=tuple(extra_ro),
        extra_read_write=tuple(extra_rw),
        network=network,
    )


def system_mounts(network: bool) -> list[str]:
    """bwrap arguments for the host system: read-only ``/usr``, links, a minimal ``/etc``."""
    args: list[str] = []
    for name in _SYSTEM_DIRS:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for name in (*_ETC_BASE, *(_ETC_NETWORK if network else ())):
        args += ["--ro-bind-try", name, name]
    return args


def base_args(bwrap: str, *, uid: int, gid: int, network: bool) -> list[str]:
    """Namespaces, identity and the host system: what every sandbox (and the start-up probe) uses."""
    args = [bwrap, "--unshare-all", "--unshare-user"]
    if network:
        args.append("--share-net")
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--uid", str(uid), "--gid", str(gid)]
    args += system_mounts(network)
    # a private, empty /tmp inside the sandbox (not the host's)
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108
    return args


def bwrap_argv(
    bwrap: str,
    plan: MountPlan,
    *,
    uid: int,
    gid: int,
    readable: Sequence[Path] = (),
    sockets: Sequence[Path] = (),
) -> list[str]:
    """The ``bwrap … --`` prefix for one step (the git argv follows it)."""
    args = base_args(bwrap, uid=uid, gid=gid, network=plan.network)
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(plan.root), str(plan.root)]
    for path in plan.git_dirs:
        args += ["--bind", str(path), str(path)]
    for path in plan.read_only:
        args += ["--ro-bind", str(path), str(path)]
    for path in plan.read_write_again:
        args += ["--bind", str(path), str(path)]
    for path in plan.masked:
        args += ["--tmpfs", str(path), "--remount-ro", str(path)]
    for path in plan.extra_read_only:
        args += ["--ro-bind", str(path), str(path)]
    for path in plan.extra_read_write:
        args += ["--bind", str(path), str(path)]
    for path in sockets:
        args += ["--bind-try", str(path), str(path)]
    args += ["--chdir", str(plan.root), "--"]
    return args
