"""The project a rehearsal runs in: a throw-away one made like the launcher's demo, or the user's.

A throw-away project is ``qms init`` plus a git repository (the launcher's
``init_demo_project``); when the scenario pushes (``git_remote: true``) it
also gets a bare repository beside it as ``origin``, with the current branch
pushed and tracking it, so ``git push`` from an agent has somewhere to go.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from agentdock import paths
from agentdock.defaults import child_env
from agentdock.launcher.project import init_demo_project
from agentdock.rehearsal.errors import RehearsalSetupError

__all__ = ["add_bare_remote", "check_user_project", "make_throwaway_project"]

_IDENTITY = ["-c", "user.name=agentdock rehearsal", "-c", "user.email=rehearsal@agentdock.invalid"]


def _git(*args: str, cwd: Path) -> str:
    git = shutil.which("git")
    if git is None:
        raise RehearsalSetupError("git is needed (git-mcp serves a git working tree)")
    try:
        done = subprocess.run(
            [git, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False, env=child_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RehearsalSetupError(f"git {' '.join(args)} could not run: {exc}") from exc
    if done.returncode != 0:
        raise RehearsalSetupError(f"git {' '.join(args)} in {cwd} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def add_bare_remote(root: Path, remote: Path) -> None:
    """Make ``remote`` a bare repository, ``origin`` of ``root``, with the current branch pushed to it."""
    remote.mkdir(parents=True, exist_ok=True)
    _git("init", "--quiet", "--bare", str(remote), cwd=remote)
    _git("remote", "add", "origin", str(remote), cwd=root)
    _git(*_IDENTITY, "push", "--quiet", "--set-upstream", "origin", "HEAD", cwd=root)


def make_throwaway_project(workdir: Path, *, remote: bool) -> Path:
    """``workdir/project`` (and ``workdir/remote.git`` when ``remote``); returns the project root."""
    root = workdir / "project"
    try:
        init_demo_project(root)
    except Exception as exc:  # the launcher's ConfigError (qms init or git failed)
        raise RehearsalSetupError(f"cannot make the throw-away project in {root}: {exc}") from exc
    if remote:
        add_bare_remote(root, workdir / "remote.git")
    return root


def check_user_project(root: Path) -> Path:
    root = root.expanduser().resolve()
    if not paths.qms_dir(root).is_dir():
        raise RehearsalSetupError(
            f"--project-root {root} has no QMS/ folder (create one with: qms init --root {root})"
        )
    return root
