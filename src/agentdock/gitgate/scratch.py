"""A real scratch repository for trying the gateway: a project with a submodule and a bare remote.

``with scratch_repository(tmp_path) as repo:`` builds, with real git:

* ``repo.remote`` — a bare repository, the project's ``origin``, holding ``main`` and ``feature``;
* ``repo.root`` — the project: ``README.md``, ``src/app.py``, ``src/util.py``, ``docs/guide.md``,
  a submodule at ``vendor/lib`` (its own repository under ``repo.upstreams``), ``main`` tracking
  ``origin/main``, agent definitions ``claude`` and ``qa`` and their (ignored) per-agent folders.

Tests and ``git-mcp`` demos use it; nothing here is used by the server itself.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ScratchRepo", "git", "scratch_repository"]

SUBMODULE_PATH = "vendor/lib"


@dataclass(frozen=True)
class ScratchRepo:
    root: Path
    remote: Path
    upstreams: Path
    env: dict[str, str]
    submodule: str = SUBMODULE_PATH

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return git(cwd or self.root, self.env, *args)


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@contextmanager
def scratch_repository(base: Path) -> Iterator[ScratchRepo]:
    """Build the scratch repository under ``base`` (which the caller owns and cleans up)."""
    home = base / "home"
    home.mkdir(parents=True)
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LANG": "C.UTF-8",
    }
    _write(
        home / ".gitconfig",
        "[user]\n\tname = Scratch\n\temail = scratch@example.invalid\n"
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n',
    )
    upstreams = base / "upstreams"
    lib = upstreams / "lib"
    lib.mkdir(parents=True)
    git(lib, env, "init", "-q")
    _write(lib / "lib.c", "int lib(void) { return 1; }\n")
    git(lib, env, "add", "lib.c")
    git(lib, env, "commit", "-q", "-m", "lib: first")

    remote = base / "remote.git"
    git(base, env, "init", "-q", "--bare", str(remote))

    root = base / "project"
    root.mkdir()
    git(root, env, "init", "-q")
    git(root, env, "config", "user.name", "Project Bot")
    git(root, env, "config", "user.email", "bot@example.invalid")
    _write(root / "README.md", "# scratch\n")
    _write(root / "src" / "app.py", "print('app')\n")
    _write(root / "src" / "util.py", "def util():\n    return 1\n")
    _write(root / "docs" / "guide.md", "guide\n")
    _write(root / ".gitignore", ".agentdock/\n.claude/users/\n")
    for agent in ("claude", "qa"):
        _write(root / ".claude" / "agents" / f"{agent}.md", f"# {agent}\n")
        (root / ".claude" / "users" / agent / "workspace").mkdir(parents=True)
        (root / ".claude" / "users" / agent / "container").mkdir(parents=True)
    git(root, env, "add", ".")
    git(root, env, "commit", "-q", "-m", "initial")
    git(root, env, "submodule", "add", "-q", str(lib), SUBMODULE_PATH)
    git(root, env, "commit", "-q", "-m", "add vendor/lib submodule")
    git(root, env, "remote", "add", "origin", str(remote))
    git(root, env, "push", "-q", "-u", "origin", "main")
    git(root, env, "branch", "feature")
    git(root, env, "push", "-q", "origin", "feature")
    yield ScratchRepo(root=root, remote=remote, upstreams=upstreams, env=env)


@dataclass(frozen=True)
class FetchGate:
    """Holds ``fetch``/``pull`` from the scratch remote until a test lets them through.

    The remote's ``uploadpack`` program (set in the project's ``.git/config``, as a person could)
    records each arrival in ``arrivals`` and, unless the gate is open, waits on a FIFO for a
    go-ahead.  Everything lives inside the remote, the one host folder a fetch's sandbox sees.
    Hooks cannot do this: the gateway runs git with hooks off.
    """

    folder: Path

    @property
    def fifo(self) -> Path:
        return self.folder / "go.fifo"

    def arrivals(self) -> int:
        log = self.folder / "arrivals"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def open(self) -> None:
        """Let every fetch through from now on (and the waiting ones: see :meth:`release`)."""
        (self.folder / "open").touch()

    def close(self) -> None:
        (self.folder / "open").unlink(missing_ok=True)

    def release(self) -> bool:
        """Let one waiting fetch through; False when none is waiting yet."""
        try:
            fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            os.write(fd, b"go\n")
        finally:
            os.close(fd)
        return True


def install_fetch_gate(repo: ScratchRepo, *, opened: bool = True) -> FetchGate:
    folder = repo.remote / "gate"
    folder.mkdir(exist_ok=True)
    gate = FetchGate(folder)
    if not gate.fifo.exists():
        os.mkfifo(gate.fifo)
    script = folder / "upload-pack"
    script.write_text(
        "#!/bin/sh\n"
        f"echo arrived >> '{folder}/arrivals'\n"
        f"[ -e '{folder}/open' ] || read go < '{gate.fifo}'\n"
        'exec git-upload-pack "$@"\n'
    )
    script.chmod(0o755)
    if opened:
        gate.open()
    else:
        gate.close()
    repo.git("config", "remote.origin.uploadpack", str(script))
    return gate
