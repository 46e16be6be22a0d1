"""What the policy needs to know about the repository and the caller, gathered per request.

* protected zones (no git command may write or stage from them; only the
  *readable* ones may be read): ``.git/``; agentdock's private state
  (``.agentdock/``); ``QMS/`` (readable; written only by the QMS); ``.claude/``
  (readable) except two holes, the caller's own ``workspace/`` and its own
  ``sessions/<caller>/`` notes folder (both writable from its container anyway);
  every other agent's folder under ``.claude/users/`` and the caller's own
  ``container/`` folder (it holds the caller's Claude configuration); every
  submodule (from ``.gitmodules`` and every gitlink in the index) and each
  ``--protect PATH``;
* configured remote names (the only repositories push/fetch/pull may name);
* protected branch names (``main``, ``master`` and ``--protect-branch``).

Gathering runs ``git`` read-only with the gateway's own environment; it is
cheap enough to do for every request, so a submodule added on the host is
protected at once.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agentdock import paths
from agentdock.gitgate.errors import ExecutionError

__all__ = [
    "DEFAULT_PROTECTED_BRANCHES",
    "ProtectedPath",
    "RepoFacts",
    "load_facts",
    "normalise_protect",
    "read_git",
    "repository_dir",
]

DEFAULT_PROTECTED_BRANCHES: tuple[str, ...] = ("main", "master")


_KINDS = {
    "submodule": "submodule",
    "protected": "protected path",
    "private": "private path",
    "git": "repository directory",
    "qms": "QMS zone",
    "claude": "agent configuration zone",
}


@dataclass(frozen=True)
class ProtectedPath:
    """A protected zone: ``path`` and everything below it, except ``holes``."""

    path: str  #: posix, relative to the project root, no trailing slash
    kind: str  #: one of ``_KINDS``
    #: tracked content may be read (log -p, show, grep of tracked files); untracked content never
    readable: bool = False
    #: sub-folders that are not part of the zone (posix, relative to the root)
    holes: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{_KINDS[self.kind]} '{self.path}'"


@dataclass(frozen=True)
class RepoFacts:
    root: Path  #: resolved project root
    protected: tuple[ProtectedPath, ...]
    remotes: frozenset[str]
    protected_branches: tuple[str, ...] = DEFAULT_PROTECTED_BRANCHES
    #: the file system folds case (macOS, Windows): zone comparisons fold case too
    case_insensitive: bool = False
    #: folders agents can change from their containers (a link there may change at any moment)
    agent_writable: tuple[str, ...] = ()


def normalise_protect(root: Path, value: str) -> str:
    """``--protect`` value -> posix path relative to root; raises ValueError when it is outside."""
    base = root.resolve()
    candidate = Path(value) if Path(value).is_absolute() else base / value
    lexical = Path(os.path.normpath(candidate))
    try:
        text = lexical.relative_to(base).as_posix()
    except ValueError as exc:
        raise ValueError(f"--protect {value!r} is outside the project root {base}") from exc
    if text in ("", "."):
        raise ValueError("--protect cannot name the project root itself")
    return text


def repository_dir(root: Path, env: Mapping[str, str]) -> Path:
    """The project's git directory: ``<root>/.git``, or where a ``.git`` file points (worktrees)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git.resolve()
    clean = {k: v for k, v in env.items() if not k.startswith("GIT_")}
    text = _git(root, clean, "rev-parse", "--absolute-git-dir").strip()
    if not text:
        raise ExecutionError(f"{root} is not a git working tree")
    return Path(text)


def read_git(root: Path, env: Mapping[str, str], *args: str) -> str:
    """stdout of a read-only ``git <args>`` in ``root`` ("" when git fails)."""
    return _git(root, env, *args)


def run_git(
    root: Path, env: Mapping[str, str], args: Sequence[str], creds: Mapping[str, object] | None = None
) -> tuple[int, str]:
    """One of the gateway's own read-only git queries (never an agent's step): (exit code, stdout).
    ``creds`` are ``subprocess.run`` user/group settings (git as the project owner)."""
    try:
        done = subprocess.run(  # type: ignore[call-overload]
            ["git", *args],
            cwd=root,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
            **dict(creds or {}),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ExecutionError(f"cannot run git in {root}: {exc}") from exc
    return int(done.returncode), str(done.stdout)


def _git(root: Path, env: Mapping[str, str], *args: str) -> str:
    code, out = run_git(root, env, args)
    return out if code == 0 else ""


def _submodules(root: Path, env: Mapping[str, str]) -> set[str]:
    found: set[str] = set()
    if (root / ".gitmodules").is_file():
        out = _git(root, env, "config", "--file", ".gitmodules", "--get-regexp", r"^submodule\..*\.path$")
        for line in out.splitlines():
            _, _, value = line.partition(" ")
            if value.strip():
                found.add(PurePosixPath(value.strip()).as_posix())
    for line in _git(root, env, "ls-files", "--stage", "-z").split("\0"):
        meta, _, name = line.partition("\t")
        if meta.startswith("160000 ") and name:
            found.add(name)
    return found


def _private(root: Path, caller: str | None) -> set[str]:
    users = paths.users_dir(root)
    private = {paths.state_dir(root).relative_to(root).as_posix()}
    if users.is_dir():
        for entry in users.iterdir():
            rel = entry.relative_to(root).as_posix()
            if caller is not None and entry.name != caller:
                private.add(rel)
            else:
                private.add(f"{rel}/container")
    if caller is None:
        private.add(users.relative_to(root).as_posix())
    else:
        private.add(paths.legacy_agent_container_dir(root, caller).relative_to(root).as_posix())
    return private


def _folds_case(root: Path) -> bool:
    """Whether ``.git`` is also found as ``.GIT`` (a case-insensitive file system)."""
    try:
        return (root / ".GIT").exists() and os.path.samefile(root / ".git", root / ".GIT")
    except OSError:
        return False


def caller_holes(root: Path, caller: str | None) -> tuple[str, ...]:
    """The folders inside ``.claude/`` git may write for ``caller``: its own session notes
    (``.claude/sessions/<caller>``) and its own workspace — never another agent's."""
    if caller is None:
        return ()
    return (
        (paths.sessions_dir(root) / caller).relative_to(root).as_posix(),
        paths.agent_workspace_dir(root, caller).relative_to(root).as_posix(),
    )


def load_facts(
    root: Path,
    env: Mapping[str, str],
    *,
    caller: str | None,
    extra_protected: Iterable[str] = (),
    protected_branches: Iterable[str] = DEFAULT_PROTECTED_BRANCHES,
) -> RepoFacts:
    """Read submodules and remotes with git; combine with the zones and configured protections."""
    root = root.resolve()
    holes = caller_holes(root, caller)
    entries: dict[str, ProtectedPath] = {
        ".git": ProtectedPath(".git", "git"),
        paths.qms_dir(root).relative_to(root).as_posix(): ProtectedPath("QMS", "qms", readable=True),
        ".claude": ProtectedPath(".claude", "claude", readable=True, holes=holes),
    }
    for path in sorted(_submodules(root, env)):
        entries.setdefault(path, ProtectedPath(path, "submodule"))
    for path in extra_protected:
        entries.setdefault(path, ProtectedPath(path, "protected"))
    for path in sorted(_private(root, caller)):
        entries.setdefault(path, ProtectedPath(path, "private"))
    remotes = frozenset(line.strip() for line in _git(root, env, "remote").splitlines() if line.strip())
    return RepoFacts(
        root=root,
        protected=tuple(entries.values()),
        remotes=remotes,
        protected_branches=tuple(protected_branches),
        case_insensitive=_folds_case(root),
        agent_writable=holes,
    )
