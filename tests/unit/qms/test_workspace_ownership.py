"""Files the QMS writes into an agent's workspace belong to the workspace's owner.

The host servers may run as root while agents run as uid 1000 in their containers; a
root-owned 0644 checkout could not be edited in place there (Claude Code's Edit tool
writes in place).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentdock import paths
from agentdock.qms.ids import parse_doc_id
from agentdock.qms.service import Qms

from .conftest import Driver

AGENT_UID, AGENT_GID = 1000, 1001  # the container user's ids (never root's)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root can hand files to another owner (the host servers here run as root)"
)


def _hand_workspace_to_agent(root: Path, agent: str) -> Path:
    workspace = paths.agent_workspace_dir(root, agent)
    workspace.mkdir(parents=True, exist_ok=True)
    os.chown(workspace, AGENT_UID, AGENT_GID)  # what the launcher does before starting the container
    return workspace


def _owner(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid


@needs_root
def test_a_checkout_into_an_agents_workspace_belongs_to_the_workspace_owner(d: Driver, qms: Qms) -> None:
    doc_id = d.create("SOP", "Owned by the agent")
    workspace = _hand_workspace_to_agent(qms.root, "claude")
    qms.checkout("claude", doc_id)
    copy = workspace / f"{doc_id}.md"
    assert _owner(copy) == (AGENT_UID, AGENT_GID)
    # and so the agent can edit it in place, then check it in
    with open(copy, "a", encoding="utf-8") as handle:
        handle.write("\nEdited in place.\n")
    qms.checkin("claude", doc_id)
    assert "Edited in place." in qms.layout.draft_file(parse_doc_id(doc_id)).read_text()


@needs_root
def test_a_document_created_into_an_agents_workspace_belongs_to_the_workspace_owner(qms: Qms) -> None:
    workspace = _hand_workspace_to_agent(qms.root, "claude")
    doc_id = qms.create("claude", "CR", "Created for the agent").data["id"]
    assert _owner(workspace / f"{doc_id}.md") == (AGENT_UID, AGENT_GID)


@needs_root
def test_files_outside_workspaces_stay_the_servers_own(d: Driver, qms: Qms) -> None:
    _hand_workspace_to_agent(qms.root, "claude")
    _hand_workspace_to_agent(qms.root, "qa")
    inbox = paths.agent_inbox_dir(qms.root, "qa")
    inbox.mkdir(parents=True, exist_ok=True)
    os.chown(inbox, AGENT_UID, AGENT_GID)
    doc_id = d.create("SOP", "Controlled")
    qms.route("claude", doc_id, "review")
    assert _owner(qms.layout.draft_file(parse_doc_id(doc_id))) == (0, 0)
    assert _owner(qms.layout.meta_file(parse_doc_id(doc_id))) == (0, 0)
    tasks = list(inbox.glob("*.md"))
    assert tasks and all(_owner(task) == (0, 0) for task in tasks)


@needs_root
def test_a_root_owned_workspace_keeps_root_owned_files(d: Driver, qms: Qms) -> None:
    doc_id = d.create("SOP", "Nobody to hand it to")
    qms.checkout("claude", doc_id)
    assert _owner(qms.layout.workspace_file("claude", parse_doc_id(doc_id))) == (0, 0)
