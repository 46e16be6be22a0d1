"""No root where it is not needed (docs/security/servers.md).

Run as root (CI is), each server is started on a project owned by an unprivileged uid
and made to write: ``qms-mcp`` creates a document, ``git-mcp`` commits.  The files are
owned by the project's owner, the start-up line says root was dropped, and the process's
real, effective and saved ids are the owner's.  On a root-owned project the server
refuses to start unless ``--allow-root``, which keeps root and says so.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentdock import paths
from agentdock.defaults import PROTOCOL_VERSION, child_env
from agentdock.launcher.engine import in_ci
from agentdock.mcphost import TokenStore
from agentdock.mcphost.process import ServerProcess, mcp_server_process
from agentdock.qms.project import init_project

OWNER_UID = 1000
OWNER_GID = 1000

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="starts servers as root (CI runs as root)"
)


def _reachable_by_owner(path: Path) -> bool:
    """Whether OWNER_UID may traverse every folder down to ``path`` (a dropped server imports lazily)."""
    for folder in (path, *path.parents):
        info = folder.stat()
        if info.st_uid == OWNER_UID:
            bit = stat.S_IXUSR
        elif info.st_gid == OWNER_GID:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


@pytest.fixture(autouse=True)
def _code_reachable_by_owner() -> None:
    import mcp

    import agentdock

    for path in (Path(agentdock.__file__).parent, Path(mcp.__file__).parent, Path(sys.executable).parent):
        if not _reachable_by_owner(path.resolve()):
            # In CI a skipped privilege test would hide the promise it checks: fail instead.
            (pytest.fail if in_ci() else pytest.skip)(
                f"uid {OWNER_UID} cannot reach {path}: a server dropped to it could not import its code"
            )


def _env() -> dict[str, str]:
    return {**child_env(), "AGENTDOCK_ALLOW_ROOT": "0"}  # the suite's allowance must not reach these servers


def _git(root: Path, *args: str) -> str:
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
    # -c safe.directory: root reading a repository the owner owns
    done = subprocess.run(
        ["git", "-c", "safe.directory=*", *args],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def owned_project() -> Iterator[tuple[Path, str]]:
    """A QMS project and git work tree owned by OWNER_UID; root provisions the token (in its data folder)."""
    root = Path(tempfile.mkdtemp(prefix="agentdock-owner-"))  # not under pytest's 0700 root-only folder
    try:
        init_project(root)
        _git(root, "init", "-q", "-b", "main")
        _git(root, "config", "user.name", "Owner")
        _git(root, "config", "user.email", "owner@example.invalid")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "project")
        for base, dirs, files in os.walk(root):
            for name in (base, *(os.path.join(base, n) for n in (*dirs, *files))):
                os.lchown(name, OWNER_UID, OWNER_GID)
        # created by root after the chown (as `sudo agentdock token` would)
        token = TokenStore(root).ensure("claude")
        assert paths.token_store_file(root).stat().st_uid == 0
        yield root, token
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _call(server: ServerProcess, token: str, tool: str, arguments: dict[str, object]) -> dict[str, object]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    headers = {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": PROTOCOL_VERSION,
    }
    response = httpx.post(server.url, json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()["result"]
    assert result.get("isError") is False, result
    return result


def _ids(pid: int) -> list[str]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return [line for line in status if line.startswith(("Uid:", "Gid:", "Groups:"))]


def test_qms_mcp_started_as_root_drops_to_the_project_owner_and_creates_files_as_the_owner(
    owned_project: tuple[Path, str],
) -> None:
    root, token = owned_project
    args = ["--stateless", "--json-response"]
    with mcp_server_process("qms-mcp", "agentdock.qms.mcp", root, env=_env(), extra_args=args) as server:
        result = _call(server, token, "qms_create", {"doc_type": "SOP", "title": "made after the drop"})
        ids = _ids(server.process.pid)
        stderr = server.stderr
    assert f"dropped root: running as uid {OWNER_UID} gid {OWNER_GID}" in stderr
    assert ids[0].split()[1:] == [str(OWNER_UID)] * 4 and ids[1].split()[1:] == [str(OWNER_GID)] * 4, ids
    doc = result["structuredContent"]["doc_id"]  # type: ignore[index]
    created = [p for p in paths.qms_dir(root).rglob("*") if doc in p.name]
    created += list(paths.agent_workspace_dir(root, "claude").glob(f"{doc}*"))
    assert created, f"no file of {doc} under {root}"
    assert {(p.stat().st_uid, p.stat().st_gid) for p in created} == {(OWNER_UID, OWNER_GID)}
    # the token hashes stay root's, in root's data folder outside the project: the server read them
    # before it dropped root (the call above was authenticated after the drop)
    assert paths.token_store_file(root).stat().st_uid == 0
    assert not paths.token_store_file(root).is_relative_to(root)


def test_git_mcp_started_as_root_commits_as_the_project_owner(owned_project: tuple[Path, str]) -> None:
    root, token = owned_project
    (root / "notes.txt").write_text("written by the owner's agent\n")
    os.lchown(root / "notes.txt", OWNER_UID, OWNER_GID)
    args = ["--stateless", "--json-response"]
    with mcp_server_process(
        "git-mcp", "agentdock.gitgate.server", root, env=_env(), extra_args=args
    ) as server:
        _call(server, token, "git_exec", {"command": "add notes.txt && commit -m 'notes'"})
        stderr = server.stderr
    assert f"dropped root: running as uid {OWNER_UID} gid {OWNER_GID}" in stderr
    head = _git(root, "rev-parse", "HEAD")
    obj = root / ".git" / "objects" / head[:2] / head[2:]
    assert obj.stat().st_uid == OWNER_UID and obj.stat().st_gid == OWNER_GID
    audit = paths.run_dir(root) / "git-mcp-audit.jsonl"
    assert audit.stat().st_uid == OWNER_UID


@pytest.mark.parametrize("module", ["agentdock.qms.mcp", "agentdock.gitgate.server"])
def test_a_root_owned_project_is_refused_unless_allow_root_which_keeps_root_and_says_so(
    tmp_path: Path, module: str
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    init_project(root)
    _git(root, "init", "-q")
    argv = ["--transport", "streamable-http", "--port", "0", "--project-root", str(root)]
    name = "qms-mcp" if module == "agentdock.qms.mcp" else "git-mcp"
    refused = subprocess.run(
        [sys.executable, "-m", module, *argv],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert f"{name}: refusing to run as root" in refused.stderr and "--allow-root" in refused.stderr
    with mcp_server_process(name, module, root, env=_env(), extra_args=["--allow-root"]) as server:
        assert f"{name}: running as root (--allow-root)" in server.stderr
        assert _ids(server.process.pid)[0].split()[1] == "0"
