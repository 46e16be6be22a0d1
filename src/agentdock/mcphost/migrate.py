"""Move secrets that earlier versions kept inside the project out of it, once.

Before the data folder (``paths.project_data_dir``) existed, a project held:

* ``.agentdock/tokens.json`` (token hashes) and ``tokens.lock``;
* ``.claude/users/<agent>/container/`` (the agent's Claude login, with its plain
  token in ``.agentdock-token``);
* ``.agentdock/overlays/<agent>/`` (generated ``.mcp.json`` with the plain token).

Every one of them was readable through git-mcp (``grep --untracked``, ``add`` +
``cat-file``), so the tokens there must be taken as known to every agent:
:func:`migrate_legacy_secrets` **discards** them (the next launch issues new ones;
running containers with an old token must be relaunched), **moves** each agent's
Claude login into ``paths.agent_container_dir`` (a login is costly to redo and was
only mounted into that agent's own container), and deletes the overlays (they are
regenerated at every launch).  Nothing is copied and left behind; links are
removed, never followed.  It returns one human-readable line per change.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from agentdock import paths
from agentdock.mcphost.errors import TokenStoreError
from agentdock.mcphost.tokens import AGENT_NAME_RE, make_private_dir

__all__ = ["LEGACY_TOKEN_FILE", "legacy_secrets", "migrate_legacy_secrets"]

LEGACY_TOKEN_FILE = ".agentdock-token"  # noqa: S105 - a file name, not a secret


def _lexists(path: Path) -> bool:
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def _remove(path: Path) -> None:
    """Delete ``path`` without following links (``rmtree`` is link-safe for folders)."""
    if _is_real_dir(path):
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _legacy_container_dirs(root: Path) -> list[tuple[str, Path]]:
    users = paths.users_dir(root)
    if not _is_real_dir(users.parent) or not _is_real_dir(users):
        return []
    found = []
    with os.scandir(users) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        if not AGENT_NAME_RE.match(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        old = paths.legacy_agent_container_dir(root, entry.name)
        if _lexists(old):
            found.append((entry.name, old))
    return found


def legacy_secrets(root: Path) -> list[Path]:
    """Paths under ``root`` that an earlier version left holding secrets."""
    found = [p for p in (paths.legacy_token_store_file(root), paths.legacy_overlays_dir(root)) if _lexists(p)]
    found += [old for _, old in _legacy_container_dirs(root)]
    lock = paths.state_dir(root) / "tokens.lock"
    return found + ([lock] if _lexists(lock) else [])


def _move_login(old: Path, new: Path) -> int:
    """Move the entries of ``old`` into ``new`` (existing entries in ``new`` win); returns how many."""
    make_private_dir(new.parent)
    if not _lexists(new):
        try:
            os.rename(old, new)
            return 1
        except OSError:
            pass  # another file system: move entry by entry below
        new.mkdir(mode=0o700)
        with contextlib.suppress(OSError):
            st = old.lstat()
            os.chown(new, st.st_uid, st.st_gid)
    moved = 0
    with os.scandir(old) as listing:
        entries = list(listing)
    for entry in entries:
        target = new / entry.name
        if _lexists(target):
            continue
        shutil.move(os.path.join(old, entry.name), target)
        moved += 1
    return moved


def migrate_legacy_secrets(root: Path) -> list[str]:
    """Take secrets out of the project ``root`` (see the module docstring); one line per change."""
    root = Path(root)
    notes: list[str] = []
    try:
        for agent, old in _legacy_container_dirs(root):
            if not _is_real_dir(old):  # a link or a file where the folder was: remove, never follow
                _remove(old)
                notes.append(f"removed {old} (not a folder)")
                continue
            token = old / LEGACY_TOKEN_FILE
            if _lexists(token):
                _remove(token)
                notes.append(f"discarded {agent}'s old token {token}: a new one is issued at its next launch")
            with os.scandir(old) as listing:
                has_login = any(True for _ in listing)
            if has_login:
                _move_login(old, paths.agent_container_dir(root, agent))
                notes.append(
                    f"moved {agent}'s Claude login {old} -> {paths.agent_container_dir(root, agent)}"
                )
            _remove(old)
        store = paths.legacy_token_store_file(root)
        if _lexists(store):
            _remove(store)
            notes.append(f"discarded the old token hashes {store}: every agent gets a new token")
        lock = paths.state_dir(root) / "tokens.lock"
        if _lexists(lock):
            _remove(lock)
        overlays = paths.legacy_overlays_dir(root)
        if _lexists(overlays):
            _remove(overlays)
            notes.append(f"removed the old generated overlays {overlays} (they held tokens)")
    except OSError as exc:
        raise TokenStoreError(f"cannot move old secrets out of {root}: {exc}") from exc
    return notes
