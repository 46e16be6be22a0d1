"""Attack class: a journal the QMS did not write (or wrote for another moment) is never replayed.

A journal replays an interrupted operation, so a planted one would write anything the server
can.  Each attack plants one, then asserts that the journal was quarantined, that nothing it
names was written, that its document is as it was, and that other documents and a server start
are unaffected.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentdock import paths
from agentdock.qms.doctor import diagnose
from agentdock.qms.ids import parse_doc_id
from agentdock.qms.journal import JournalSeal
from agentdock.qms.model import Status
from agentdock.qms.safefs import SafeRoot
from agentdock.qms.service import Qms


class Killed(BaseException):
    """Stands in for SIGKILL at a chosen point."""


def kill_after_writes(monkeypatch: pytest.MonkeyPatch, allowed: int) -> None:
    """The process dies at the ``allowed + 1``-th file write (the first is the journal: the commit point)."""
    real = SafeRoot.write_bytes
    count = {"n": 0}

    def write_bytes(self: SafeRoot, *args: Any, **kwargs: Any) -> None:
        count["n"] += 1
        if count["n"] > allowed:
            raise Killed
        real(self, *args, **kwargs)

    monkeypatch.setattr(SafeRoot, "write_bytes", write_bytes)


def without(snap: dict[str, Any], *prefixes: Path) -> dict[str, Any]:
    return {k: v for k, v in snap.items() if not any(k.startswith(str(p)) for p in prefixes)}


def forged(
    doc: str, meta: dict[str, Any], writes: list[list[Any]], events: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"doc": doc, "meta": meta, "writes": writes, "events": events}


@pytest.mark.parametrize(
    "target",
    [
        ".git/config",
        ".claude/users/qa/container/.agentdock-token",
        ".claude/users/qa/workspace/notes.md",
        "../escape.txt",
    ],
)
def test_a_planted_journal_writing_outside_its_document_is_quarantined_and_writes_nothing(
    attack: Any, root: Path, qms: Qms, target: str
) -> None:
    doc = attack.draft_sop()
    meta = qms.storage.load_meta(parse_doc_id(doc)).to_json()
    before = attack.snapshot()
    planted = attack.plant_journal(
        doc, forged(doc, meta, [[target, "[core]\n\tfsmonitor = touch /tmp/pwned\n"]], [])
    )
    # The next call that takes the document's lock would have replayed it.
    assert qms.status("claude", doc).data["status"] == "DRAFT"
    quarantine = paths.qms_dir(root) / ".meta" / "quarantine"
    assert not planted.exists()
    assert without(attack.snapshot(), quarantine) == before  # .git/config, qa's folder: untouched
    assert not (root.parent / "escape.txt").exists()
    (reason,) = qms.storage.quarantined()
    assert "corrupt journal" in reason["reason"] and reason["doc"] == doc
    assert "quarantined" in qms.status("claude").message
    healthy, report = diagnose(qms.queries)
    assert not healthy and "quarantined journal" in report.message


def test_a_planted_journal_making_a_document_effective_without_approval_is_not_replayed(
    attack: Any, root: Path, qms: Qms
) -> None:
    """Every path it writes is the document's own: only the seal tells it is forged."""
    doc = attack.draft_sop()
    meta = qms.storage.load_meta(parse_doc_id(doc))
    forged_meta = meta.evolve(status=Status.EFFECTIVE, version="1.0", effective_version="1.0").to_json()
    effective = qms.layout.relative(qms.layout.effective_file(parse_doc_id(doc)))
    event = {
        "ts": "2026-01-01T00:00:00Z",
        "event": "EFFECTIVE",
        "user": "qa",
        "version": "1.0",
        "seq": meta.audit_seq + 1,
    }
    before = attack.snapshot()
    attack.plant_journal(
        doc,
        forged(doc, forged_meta, [[effective, "---\ntitle: t\nrevision_summary: s\n---\nforged\n"]], [event]),
    )
    assert qms.read("qa", doc).data["status"] == "DRAFT"
    assert not qms.layout.effective_file(parse_doc_id(doc)).exists()
    assert without(attack.snapshot(), paths.qms_dir(root) / ".meta" / "quarantine") == before
    assert "seal" in qms.storage.quarantined()[0]["reason"]
    assert [e["event"] for e in qms.history("qa", doc).data["events"]][-1] != "EFFECTIVE"


def test_a_sealed_journal_that_writes_outside_its_document_is_still_refused(
    attack: Any, root: Path, qms: Qms
) -> None:
    """The path policy is a line of its own: even with the journal key (a leak, a bug), no write
    outside the document's paths is replayed."""
    doc = attack.draft_sop()
    meta = qms.storage.load_meta(parse_doc_id(doc)).to_json()
    before = attack.snapshot()
    sealed = JournalSeal(root).seal(forged(doc, meta, [[".git/config", "[core]\n\thooksPath = /tmp\n"]], []))
    attack.journal_path(doc).write_text(sealed)
    qms.status("claude", doc)
    assert without(attack.snapshot(), paths.qms_dir(root) / ".meta" / "quarantine") == before
    assert "may not write" in qms.storage.quarantined()[0]["reason"]


def test_an_old_genuine_journal_planted_again_is_not_replayed(
    attack: Any, root: Path, qms: Qms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay: a journal the QMS did write, for an earlier state, copied back later."""
    doc = attack.draft_sop()
    kill_after_writes(monkeypatch, 1)  # the journal is on disk, nothing applied
    with pytest.raises(Killed):
        qms.route("claude", doc, "review")
    monkeypatch.undo()
    captured = attack.journal_path(doc).read_text()
    assert Qms(root).status("claude", doc).data["status"] == "IN_REVIEW"  # the genuine one is finished
    qms.withdraw("claude", doc)  # the document moves on: DRAFT again
    before = attack.snapshot()
    attack.journal_path(doc).write_text(captured)
    assert qms.status("claude", doc).data["status"] == "DRAFT"
    assert without(attack.snapshot(), paths.qms_dir(root) / ".meta" / "quarantine") == before
    assert "stale" in qms.storage.quarantined()[0]["reason"]
    assert qms.history("claude", doc).data["audit"] == "intact"


def test_a_journal_that_is_a_link_to_a_host_file_is_quarantined_without_reading_it(
    attack: Any, root: Path, qms: Qms, host: Path
) -> None:
    doc = attack.draft_sop()
    before = attack.snapshot()
    os.symlink(host / "secret.txt", attack.journal_path(doc))
    assert qms.status("claude", doc).data["status"] == "DRAFT"
    assert (host / "secret.txt").read_text().startswith("host secret")
    assert not attack.journal_path(doc).exists() and not attack.journal_path(doc).is_symlink()
    assert without(attack.snapshot(), paths.qms_dir(root) / ".meta" / "quarantine") == before
    assert "host secret" not in json.dumps(qms.storage.quarantined())


def test_a_genuine_journal_whose_workspace_became_a_link_finishes_without_writing_through_it(
    attack: Any, root: Path, qms: Qms, host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash after the commit point of a checkout, then the agent swaps its workspace folder for a
    link to the host: the replay finishes the QMS's part and skips the agent's copy."""
    doc = attack.effective_sop()
    kill_after_writes(monkeypatch, 1)
    with pytest.raises(Killed):
        qms.checkout("claude", doc)
    monkeypatch.undo()
    workspace = paths.agent_workspace_dir(root, "claude")
    for entry in workspace.iterdir():
        entry.unlink()
    workspace.rmdir()
    os.symlink(host, workspace)
    before_host = sorted(p.name for p in host.iterdir())
    status = qms.status("claude", doc).data
    assert status["checked_out"] is True and status["version"] == "1.1"
    assert sorted(p.name for p in host.iterdir()) == before_host  # nothing written through the link
    assert qms.history("claude", doc).data["audit"] == "intact"


def test_a_corrupt_journal_blocks_neither_other_documents_nor_the_status_of_all(
    attack: Any, root: Path, qms: Qms
) -> None:
    first = attack.draft_sop("First")
    second = attack.draft_sop("Second")
    attack.plant_journal(first, {"doc": first, "garbage": True})
    (paths.qms_dir(root) / ".meta" / "SOP" / ".not-a-doc.journal").write_text("{}")
    (paths.qms_dir(root) / ".meta" / "SOP" / f".{second}.journal").mkdir()  # a folder where a journal goes
    rows = {r["id"]: r["status"] for r in qms.status("claude").data["documents"]}
    assert rows == {first: "DRAFT", second: "DRAFT"}
    qms.route("claude", first, "review")
    qms.route("claude", second, "review")
    third = attack.draft_sop("Third")
    assert qms.status("qa", third).data["status"] == "DRAFT"
    assert len(qms.storage.quarantined()) == 3


@pytest.mark.anyio
async def test_the_server_starts_and_serves_with_planted_journals(
    attack: Any, root: Path, server_factory: Any, connect: Any
) -> None:
    doc = attack.draft_sop()
    attack.plant_journal(doc, {"doc": doc, "writes": [[".git/config", "x"]], "events": [], "meta": None})
    (paths.qms_dir(root) / ".meta" / "CR").mkdir(exist_ok=True)
    (paths.qms_dir(root) / ".meta" / "CR" / ".CR-001.journal").write_text("not json")
    config = (root / ".git" / "config").read_bytes()
    with server_factory() as server, anyio.fail_after(60):
        async with connect(server.url, "claude") as client:
            status = await client.call_tool("qms_status", {})
            assert not status.is_error and doc in "".join(b.text for b in status.content)
            created = await client.call_tool("qms_create", {"doc_type": "SOP", "title": "After the attack"})
            assert not created.is_error
    assert (root / ".git" / "config").read_bytes() == config
    assert len(Qms(root).storage.quarantined()) == 2
