"""Fixtures for QMS unit tests: an initialised project and a driver that walks documents through workflows."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock import paths
from agentdock.qms.project import init_project
from agentdock.qms.service import Qms, Result


class Driver:
    """Short-hands over a real :class:`Qms` for moving documents between states."""

    def __init__(self, qms: Qms) -> None:
        self.qms = qms
        self.root = qms.root

    def workspace(self, user: str, doc_id: str) -> Path:
        return paths.agent_workspace_dir(self.root, user) / f"{doc_id}.md"

    def edit(self, doc_id: str, body: str, *, user: str = "claude", summary: str = "edited") -> None:
        path = self.workspace(user, doc_id)
        text = path.read_text()
        front, _, _ = text.partition("\n---\n")
        front = "\n".join(
            f"revision_summary: {summary}" if line.startswith("revision_summary:") else line
            for line in front.splitlines()
        )
        path.write_text(f"{front}\n---\n{body}\n")

    def create(self, doc_type: str = "SOP", title: str = "A procedure", parent: str | None = None) -> str:
        doc_id: str = self.qms.create("claude", doc_type, title, parent).data["id"]
        self.edit(doc_id, "first body")
        self.qms.checkin("claude", doc_id)
        return doc_id

    def review(self, doc_id: str, *reviewers: str) -> Result:
        self.qms.route("claude", doc_id, "review")
        if reviewers:
            self.qms.assign("qa", doc_id, list(reviewers))
        result = self.qms.review("qa", doc_id, "recommend")
        for reviewer in reviewers:
            result = self.qms.review(reviewer, doc_id, "recommend", "looks right")
        return result

    def approve(self, doc_id: str) -> Result:
        self.qms.route("claude", doc_id, "approval")
        return self.qms.approve("qa", doc_id)

    def revise(self, doc_id: str, body: str) -> None:
        self.qms.checkout("claude", doc_id)
        self.edit(doc_id, body)
        self.qms.checkin("claude", doc_id)

    def status(self, doc_id: str) -> str:
        return str(self.qms.status("claude", doc_id).data["status"])

    def events(self, doc_id: str) -> list[str]:
        return [e["event"] for e in self.qms.history("claude", doc_id).data["events"]]

    def inbox(self, user: str) -> list[str]:
        return sorted(p.name for p in paths.agent_inbox_dir(self.root, user).glob("*.md"))

    def snapshot(self) -> dict[str, bytes]:
        """Every file under the root except lock files: to prove a refusal changed nothing."""
        return {
            p.relative_to(self.root).as_posix(): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and "locks" not in p.parts
        }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    init_project(tmp_path)
    return tmp_path


@pytest.fixture
def qms(root: Path) -> Qms:
    return Qms(root)


@pytest.fixture
def d(qms: Qms) -> Driver:
    return Driver(qms)
