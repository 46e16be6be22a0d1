"""A hostile-world repository for the git gateway's adversarial suite.

Built on :func:`agentdock.gitgate.scratch.scratch_repository` (a submodule at ``vendor/lib``, a bare
remote ``origin``, agents ``claude`` and ``qa``), plus what an attacker would aim at:

* a QMS tree with ``.meta`` journals, an ``.audit`` trail and an ``.archive``, all committed;
* agent definitions ``.claude/agents/*.md`` (committed) and a committed ``.claude/sessions/`` note;
* planted credentials: ``qa``'s token in its ``container/`` folder, the caller's own token, an
  overlay ``mcp.json`` under ``.agentdock/``, and a host file outside the project root;
* a file in ``qa``'s workspace (another agent's folder).

:func:`snapshot` hashes every protected zone, ``.git/config``/``hooks``/``info``, the bare remote
and the folder outside the root, so each test can assert that nothing changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentdock.gitgate.executor import ExecLimits, build_env
from agentdock.gitgate.gateway import GateConfig, GitGateway, Outcome
from agentdock.gitgate.scratch import ScratchRepo, scratch_repository

TOKEN_QA = "adk_qa-PLANTED-TOKEN-4f1c9e"
TOKEN_OWN = "adk_claude-PLANTED-TOKEN-77aa01"
TOKEN_OVERLAY = "adk_overlay-PLANTED-TOKEN-2b2b2b"
TOKEN_HOST = "host-PLANTED-SECRET-9d9d9d"
SECRET_QA_WORK = "qa-workspace-PLANTED-3c3c3c"
SECRETS = (TOKEN_QA, TOKEN_OWN, TOKEN_OVERLAY, TOKEN_HOST, SECRET_QA_WORK)

QMS_FILES = {
    "QMS/SOP-001.md": "# SOP-001\n",
    "QMS/.meta/SOP-001/1.journal": '{"op": "approve"}\n',
    "QMS/.audit/trail.jsonl": '{"seq": 1}\n{"seq": 2}\n',
    "QMS/.archive/SOP-001/v1.md": "# SOP-001 v1\n",
}


@dataclass(frozen=True)
class World:
    repo: ScratchRepo
    outside: Path  #: a folder next to the project root, standing for the rest of the host

    @property
    def root(self) -> Path:
        return self.repo.root

    @property
    def workspace(self) -> Path:
        return self.root / ".claude" / "users" / "claude" / "workspace"

    def gateway(self) -> GitGateway:
        env = build_env(self.repo.env, self.root)
        return GitGateway(GateConfig(root=self.root, env=env, limits=ExecLimits(timeout_s=60)))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build_world(base: Path) -> Iterator[World]:
    with scratch_repository(base / "w") as repo:
        root = repo.root
        for rel, text in QMS_FILES.items():
            _write(root / rel, text)
        _write(root / ".claude" / "sessions" / "claude" / "notes.md", "session notes\n")
        _write(root / ".claude" / "sessions" / "qa" / "notes.md", "qa's session notes\n")
        repo.git("add", "-f", "QMS", ".claude/sessions")
        repo.git("commit", "-q", "-m", "QMS and notes")
        repo.git("push", "-q", "origin", "main")
        _write(root / ".claude" / "users" / "qa" / "container" / ".agentdock-token", TOKEN_QA + "\n")
        _write(root / ".claude" / "users" / "claude" / "container" / ".agentdock-token", TOKEN_OWN + "\n")
        _write(root / ".agentdock" / "overlays" / "qa" / "mcp.json", f'{{"token": "{TOKEN_OVERLAY}"}}\n')
        _write(root / ".claude" / "users" / "qa" / "workspace" / "work.txt", SECRET_QA_WORK + "\n")
        outside = base / "w" / "outside"
        _write(outside / "host-secret.txt", TOKEN_HOST + "\n")
        yield World(repo=repo, outside=outside)


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(tmp_path_factory.mktemp("gitgate-template"))


@pytest.fixture
def world(_template: World, tmp_path: Path) -> World:
    """A fresh copy of the hostile world (copying is much cheaper than building it with git)."""
    source = _template.root.parent
    shutil.copytree(source, tmp_path / "w", symlinks=True)
    root = tmp_path / "w" / "project"
    remote = tmp_path / "w" / "remote.git"
    repo = dataclasses.replace(
        _template.repo, root=root, remote=remote, upstreams=tmp_path / "w" / "upstreams"
    )
    repo.git("remote", "set-url", "origin", str(remote))
    return World(repo=repo, outside=tmp_path / "w" / "outside")


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for tests that only send refused commands (each asserts nothing changed)."""
    yield from build_world(tmp_path_factory.mktemp("gitgate-security"))


def _hash_tree(base: Path, into: dict[str, str], label: str) -> None:
    if not os.path.lexists(base):
        return
    if base.is_symlink() or base.is_file():
        data = os.readlink(base).encode() if base.is_symlink() else base.read_bytes()
        into[label] = hashlib.sha256(data).hexdigest()
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / name
            rel = f"{label}/{path.relative_to(base).as_posix()}"
            data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            into[rel] = hashlib.sha256(data).hexdigest()
        into[f"{label}/{Path(dirpath).relative_to(base).as_posix()}/"] = "dir"


def snapshot(world: World, *, remote_refs: bool = True) -> dict[str, str]:
    """Hashes of every protected zone (minus the caller's holes), git's own control files, the remote."""
    root = world.root
    found: dict[str, str] = {}
    for rel in (
        "QMS",
        ".agentdock",
        ".claude/agents",
        ".claude/users/qa",
        ".claude/users/claude/container",
        ".claude/users/claude/inbox",
        ".git/config",
        ".git/hooks",
        ".git/info",
        "vendor/lib",
    ):
        _hash_tree(root / rel, found, rel)
    _hash_tree(world.outside, found, "outside")
    _hash_tree(world.repo.remote / "config", found, "remote/config")
    _hash_tree(world.repo.remote / "hooks", found, "remote/hooks")
    if remote_refs:
        found["remote/refs"] = world.repo.git("for-each-ref", cwd=world.repo.remote)
    found["index/zones"] = world.repo.git("ls-files", "-s", "--", "QMS", ".claude/agents", "vendor/lib")
    found["head/zones"] = world.repo.git("ls-tree", "-r", "HEAD", "--", "QMS", ".claude/agents", "vendor/lib")
    return found


def leaked(outcome: Outcome) -> list[str]:
    """Planted secrets that appear anywhere in what the caller got back."""
    text = str(outcome.refused or "")
    if outcome.result is not None:
        text += "".join(s.stdout + s.stderr for s in outcome.result.steps)
    return [secret for secret in SECRETS if secret in text]
