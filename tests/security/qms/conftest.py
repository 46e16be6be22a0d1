"""An attacker's view of a real QMS project: a project with every default agent, a host folder
outside it holding a "secret", and a snapshot of every byte on disk to prove that a refused
attack changed nothing.

The attacker is an agent that has escaped nothing yet but can write its own workspace, and —
for the classes that need it — is assumed to have got one write past the git gateway (that is
what "planted" means below): the QMS must hold on its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentdock import paths
from agentdock.mcphost import TokenStore
from agentdock.qms.process import ServerProcess, qms_server_process
from agentdock.qms.project import init_project
from agentdock.qms.service import Qms

SECRET = "host secret: never to be shown to an agent\n"


def _snapshot(*roots: Path) -> dict[str, bytes | str]:
    """Every entry under each root (files by content, links by target), lock files aside."""
    found: dict[str, bytes | str] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if "locks" in path.parts:
                continue
            key = str(path)
            if path.is_symlink():
                found[key] = "link -> " + str(path.readlink())
            elif path.is_file():
                found[key] = path.read_bytes()
            elif path.is_dir():
                found[key] = "dir"
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    init_project(project)
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n\trepositoryformatversion = 0\n")
    return project


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A folder outside the project, standing for the host: a secret to read, a file to overwrite."""
    folder = tmp_path / "host"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET)
    return folder


@pytest.fixture
def qms(root: Path) -> Qms:
    return Qms(root)


class Attack:
    """What the attacking agent (and the test's bookkeeping) does to one project."""

    def __init__(self, qms: Qms, host: Path) -> None:
        self.qms = qms
        self.root = qms.root
        self.host = host

    def snapshot(self) -> dict[str, bytes | str]:
        """Every byte under the project and the host folder: equal before and after = nothing changed."""
        return _snapshot(self.root, self.host)

    def workspace(self, user: str, doc: str) -> Path:
        return paths.agent_workspace_dir(self.root, user) / f"{doc}.md"

    def edit(self, user: str, doc: str, body: str = "body") -> None:
        self.workspace(user, doc).write_text(
            f"---\ntitle: {doc} title\nrevision_summary: edited\n---\n{body}\n"
        )

    def draft_sop(self, title: str = "Cleaning") -> str:
        """An SOP created, edited and checked in by claude (DRAFT v0.1)."""
        doc: str = self.qms.create("claude", "SOP", title).data["id"]
        self.edit("claude", doc)
        self.qms.checkin("claude", doc)
        return doc

    def effective_sop(self) -> str:
        """An SOP walked to EFFECTIVE v1.0 by the default agents."""
        doc = self.draft_sop()
        self.qms.route("claude", doc, "review")
        self.qms.review("qa", doc, "recommend", "fine")
        self.qms.route("claude", doc, "approval")
        self.qms.approve("qa", doc)
        return doc

    def journal_path(self, doc: str) -> Path:
        kind = "VAR" if "-VAR-" in doc else doc.split("-", 1)[0]
        return paths.qms_dir(self.root) / ".meta" / kind / f".{doc}.journal"

    def plant_journal(self, doc: str, journal: dict[str, Any]) -> Path:
        path = self.journal_path(doc)
        path.write_text(json.dumps(journal))
        return path


@pytest.fixture
def attack(qms: Qms, host: Path) -> Attack:
    return Attack(qms, host)


@pytest.fixture
def tokens(root: Path) -> dict[str, str]:
    store = TokenStore(root)
    return {agent: store.ensure(agent) for agent in paths.DEFAULT_AGENTS}


@pytest.fixture
def server_factory(root: Path, tokens: dict[str, str]) -> Callable[[], Any]:
    """``with server_factory() as proc``: a real ``qms-mcp`` on 127.0.0.1 (stateless JSON)."""

    def start() -> Any:
        return qms_server_process(root, stateless=True, json_response=True)

    return start


Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def connect(tokens: dict[str, str]) -> Connect:
    @asynccontextmanager
    async def _connect(url: str, agent: str) -> AsyncIterator[Client]:
        http = httpx2.AsyncClient(
            headers={"authorization": f"Bearer {tokens[agent]}"}, timeout=httpx2.Timeout(60.0)
        )
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            yield client

    return _connect


@pytest.fixture
def running(server_factory: Callable[[], Any]) -> Iterator[ServerProcess]:
    with server_factory() as proc:
        yield proc
