"""What the policy needs to know about the repository and the caller, gathered per request.

* protected paths: every submodule (from ``.gitmodules`` and every gitlink in
  the index), each ``--protect PATH``, agentdock's private state
  (``.agentdock/``), every other agent's folder under ``.claude/users/`` and
  the caller's own ``container/`` folder (it holds the caller's token);
* configured remote names (the only repositories push/fetch/pull may name);
* protected branch names (``main``, ``master`` and ``--protect-branch``).

Gathering runs ``git`` read-only with the gateway's own environment; it is
cheap enough to do for every request, so a submodule added on the host is
protected at once.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
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
    "repository_dir",
]

DEFAULT_PROTECTED_BRANCHES: tuple[str, ...] = ("main", "master")


@dataclass(frozen=True)
class ProtectedPath:
    path: str  #: posix, relative to the project root, no trailing slash
    kind: str  #: "submodule", "protected" (--protect) or "private" (agentdock state, other agents)

    def describe(self) -> str:
        return {"submodule": "submodule", "protected": "protected path", "private": "private path"}[
            self.kind
        ] + f" '{self.path}'"


@dataclass(frozen=True)
class RepoFacts:
    root: Path  #: resolved project root
    protected: tuple[ProtectedPath, ...]
    remotes: frozenset[str]
    protected_branches: tuple[str, ...] = DEFAULT_PROTECTED_BRANCHES


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


def _git(root: Path, env: Mapping[str, str], *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ExecutionError(f"cannot run git in {root}: {exc}") from exc
    return done.stdout if done.returncode == 0 else ""


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
    if caller is not None:
        private.add(paths.legacy_agent_container_dir(root, caller).relative_to(root).as_posix())
    return private


def load_facts(
    root: Path,
    env: Mapping[str, str],
    *,
    caller: str | None,
    extra_protected: Iterable[str] = (),
    protected_branches: Iterable[str] = DEFAULT_PROTECTED_BRANCHES,
) -> RepoFacts:
    """Read submodules and remotes with git; combine with configured protections."""
    root = root.resolve()
    entries: dict[str, ProtectedPath] = {}
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
    )
