"""The project an agent works in: which root, which agents, and how its folders are prepared.

The default project root is the current git repository when it has a QMS (a
``QMS/`` folder); otherwise an embedded demo project under agentdock's data
folder, created with ``qms init --root DIR`` on first use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from agentdock import paths
from agentdock.defaults import child_env, data_dir
from agentdock.launcher.errors import ConfigError

__all__ = [
    "agent_names",
    "container_project_dir",
    "default_data_dir",
    "find_console_script",
    "init_demo_project",
    "is_git_work_tree",
    "resolve_project_root",
    "validate_agent",
    "validate_agents",
]


def is_git_work_tree(root: Path) -> bool:
    """Whether ``root`` is the top of a git working tree (what git-mcp needs to serve it)."""
    git = shutil.which("git")
    if git is None:
        return False
    try:
        done = subprocess.run(
            [git, "-C", str(root), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env=child_env(extra={"GIT_CONFIG_NOSYSTEM": "1"}),
        )
    except (OSError, subprocess.SubprocessError):
        return False
    top = done.stdout.strip()
    return done.returncode == 0 and bool(top) and Path(top).resolve() == root.resolve()


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """agentdock's per-user data directory (see :func:`agentdock.defaults.data_dir`)."""
    return data_dir(environ)


def find_console_script(name: str) -> list[str]:
    """The argv prefix running console script ``name``: next to this Python first, then on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which(name)
    if found:
        return [found]
    raise ConfigError(f"{name!r} is not installed (expected beside {sys.executable} or on PATH)")


def _git_toplevel(cwd: Path) -> Path | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        out = subprocess.run(
            [git, "rev-parse", "--show-toplevel"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env=child_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def init_demo_project(
    root: Path, *, run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
) -> None:
    """Create a QMS project at ``root``: ``qms init --root ROOT`` (the default agents), then a git
    repository with one commit, since git-mcp serves a working tree."""
    root.mkdir(parents=True, exist_ok=True)
    git = shutil.which("git")
    if git is None:
        raise ConfigError("git is not installed; the demo project is a git repository (apt install git)")
    identity = ["-c", "user.name=agentdock", "-c", "user.email=agentdock@localhost"]
    steps = [
        [*find_console_script("qms"), "init", "--root", str(root)],
        [git, "init", "--quiet", str(root)],
        [git, "-C", str(root), "add", "--all"],
        [
            git,
            "-C",
            str(root),
            *identity,
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            "QMS project (qms init)",
        ],
    ]
    for index, argv in enumerate(steps):
        if index == 1:  # agentdock's run state (pid/log files, idempotency records) stays out of git
            with open(root / ".gitignore", "a", encoding="utf-8") as ignore:
                ignore.write(".agentdock/\n")
        shown = " ".join([Path(argv[0]).name, *argv[1:]])
        try:
            done = run(argv, capture_output=True, text=True, timeout=120, check=False, env=child_env())
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"`{shown}` could not run: {exc}") from exc
        if done.returncode != 0:
            raise ConfigError(f"`{shown}` failed ({done.returncode}): {done.stderr.strip()}")


def resolve_project_root(
    explicit: Path | None, *, cwd: Path, data_dir: Path, init: Callable[[Path], None] = init_demo_project
) -> Path:
    """``--project-root`` if given; else the current repo when it has a QMS; else the demo project."""
    if explicit is not None:
        root = explicit.expanduser().resolve()
        if not root.is_dir():
            raise ConfigError(f"--project-root {root} is not a directory")
        if not paths.qms_dir(root).is_dir():
            raise ConfigError(
                f"--project-root {root} has no QMS/ folder (create one with: qms init --root {root})"
            )
        return root
    repo = _git_toplevel(cwd) or cwd
    if paths.qms_dir(repo).is_dir():
        return repo.resolve()
    demo = (data_dir / "demo").resolve()
    if not paths.qms_dir(demo).is_dir():
        init(demo)
        if not paths.qms_dir(demo).is_dir():
            raise ConfigError(f"`qms init` did not create {paths.qms_dir(demo)}")
    return demo


def agent_names(root: Path) -> list[str]:
    """Agents defined in the project (``.claude/agents/<name>.md``), canonical ones first."""
    folder = paths.agents_dir(root)
    found = {p.stem for p in folder.glob("*.md")} if folder.is_dir() else set()
    ordered = [a for a in paths.DEFAULT_AGENTS if a in found]
    return ordered + sorted(found - set(ordered))


def validate_agent(root: Path, agent: str) -> str:
    """``agent`` if the project defines it, else ConfigError listing the valid agents."""
    names = agent_names(root)
    if agent not in names:
        listing = ", ".join(names) if names else f"none (no {paths.agents_dir(root)}/*.md)"
        raise ConfigError(f"unknown agent {agent!r}; valid agents: {listing}")
    return agent


def validate_agents(root: Path, agents: Sequence[str]) -> list[str]:
    """Every name in ``agents`` if the project defines it and none repeats; else ConfigError
    naming all the unknown (or repeated) ones and listing the valid agents."""
    names = agent_names(root)
    unknown = [agent for agent in agents if agent not in names]
    if unknown:
        listing = ", ".join(names) if names else f"none (no {paths.agents_dir(root)}/*.md)"
        shown = ", ".join(repr(agent) for agent in unknown)
        raise ConfigError(f"unknown agent{'s' if len(unknown) > 1 else ''} {shown}; valid agents: {listing}")
    repeated = sorted({agent for agent in agents if list(agents).count(agent) > 1})
    if repeated:
        raise ConfigError(f"each agent may be launched once; repeated: {', '.join(repeated)}")
    return list(agents)


def container_project_dir(root: Path) -> str:
    """Where the project root appears inside a container: ``/<project-name>``."""
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in root.name).strip(".-") or "project"
    if name in {
        "bin",
        "boot",
        "dev",
        "etc",
        "home",
        "lib",
        "lib64",
        "opt",
        "proc",
        "projects",
        "proxy",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "tmp",
        "usr",
        "var",
    }:
        name = f"project-{name}"
    return f"/{name}"
