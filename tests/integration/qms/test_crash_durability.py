"""SIGKILL a process at random points while it checks in, routes, reviews and approves; nothing is half-written.

Each iteration forks a worker that walks three SOPs round their life cycle
(checkout -> checkin -> review -> approval -> EFFECTIVE -> checkout ...) and
reports every operation it saw succeed; the test kills it with SIGKILL after a
random delay, then checks every document the way the next process would see it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from agentdock import paths
from agentdock.auth.files import atomic_write_text
from agentdock.qms.documents import parse_document
from agentdock.qms.ids import parse_doc_id
from agentdock.qms.model import Meta, Status
from agentdock.qms.service import Qms

DOCS = ("SOP-001", "SOP-002", "SOP-003")
ITERATIONS = 200


def step(qms: Qms, doc: str, n: int) -> None:
    """Perform the next operation in this document's life cycle."""
    meta = qms.storage.load_meta(parse_doc_id(doc))
    if meta.checked_out:
        workspace = paths.agent_workspace_dir(qms.root, "claude") / f"{doc}.md"
        atomic_write_text(workspace, f"---\ntitle: {doc}\nrevision_summary: edit {n}\n---\nbody {n}\n" * 1)
        qms.checkin("claude", doc)
    elif meta.status is Status.DRAFT:
        qms.route("claude", doc, "review")
    elif meta.status is Status.IN_REVIEW:
        qms.review("qa", doc, "recommend")
    elif meta.status is Status.REVIEWED:
        qms.route("claude", doc, "approval")
    elif meta.status is Status.IN_APPROVAL:
        qms.approve("qa", doc)
    elif meta.status is Status.EFFECTIVE:
        qms.checkout("claude", doc)


def worker(root: Path, conn: Connection, seed: int) -> None:
    rng = random.Random(seed)
    qms = Qms(root)
    conn.send(("ready", "", 0))
    n = 0
    while True:
        doc = rng.choice(DOCS)
        try:
            step(qms, doc, n)
        except Exception as exc:
            conn.send(("error", doc, repr(exc)))
            return
        conn.send(("ok", doc, qms.storage.load_meta(parse_doc_id(doc)).audit_seq))
        n += 1


def check_document(qms: Qms, doc: str) -> None:
    layout = qms.layout
    doc_id = parse_doc_id(doc)
    meta = Meta.from_json(json.loads(layout.meta_file(doc_id).read_text()))
    raw = layout.audit_file(doc_id).read_text()
    assert raw.endswith("\n"), f"{doc}: torn audit line"
    events = [json.loads(line) for line in raw.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), f"{doc}: audit sequence broken"
    assert len(events) == meta.audit_seq, f"{doc}: meta says {meta.audit_seq} events, audit has {len(events)}"
    changes = [e for e in events if e["event"] == "STATUS_CHANGE"]
    assert (changes[-1]["to"] if changes else "DRAFT") == meta.status.value, f"{doc}: meta and audit disagree"
    current = qms.current_file(meta)
    parse_document(current.read_text(), source=str(current))
    for archived in (layout.qms / ".archive").rglob(f"{doc}-v*.md"):
        parse_document(archived.read_text(), source=str(archived))
    tasks = {p.parent.parent.name for p in paths.users_dir(qms.root).glob(f"*/inbox/task-{doc}-*.md")}
    assert tasks == set(meta.pending_assignees), (
        f"{doc}: inbox tasks {tasks} vs pending {meta.pending_assignees}"
    )
    if meta.checked_out:
        parse_document((paths.agent_workspace_dir(qms.root, "claude") / f"{doc}.md").read_text())


@pytest.mark.slow
def test_documents_survive_sigkill_at_random_points_200_times(tmp_path: Path) -> None:
    from agentdock.qms.project import init_project

    init_project(tmp_path)
    setup = Qms(tmp_path)
    for doc in DOCS:
        assert setup.create("claude", "SOP", doc).data["id"] == doc
    rng = random.Random(int(os.environ.get("AGENTDOCK_CRASH_SEED", "20260131")))
    context = multiprocessing.get_context("fork")
    seen: dict[str, int] = dict.fromkeys(DOCS, 0)
    interrupted = 0
    operations = 0
    for iteration in range(ITERATIONS):
        parent_end, child_end = context.Pipe(duplex=False)
        process = context.Process(
            target=worker, args=(tmp_path, child_end, rng.randrange(2**32)), daemon=True
        )
        process.start()
        child_end.close()
        assert parent_end.poll(30), "worker never became ready"
        parent_end.recv()
        time.sleep(rng.uniform(0.0, 0.08))  # the random kill point, not a wait for an event
        os.kill(process.pid or 0, signal.SIGKILL)
        process.join(timeout=30)
        assert process.exitcode == -signal.SIGKILL
        while parent_end.poll():
            try:
                kind, doc, value = parent_end.recv()
            except (EOFError, OSError):
                break
            assert kind != "error", f"iteration {iteration}: worker refused on {doc}: {value}"
            seen[doc] = max(seen[doc], int(value))
            operations += 1
        parent_end.close()
        qms = Qms(tmp_path)
        interrupted += sum(qms.storage.pending_journal(parse_doc_id(d)) for d in DOCS)
        qms.storage.recover_all()
        for doc in DOCS:
            check_document(qms, doc)
            audit_seq = qms.storage.load_meta(parse_doc_id(doc)).audit_seq
            assert audit_seq >= seen[doc], f"{doc}: an event the worker saw succeed was lost"
    print(
        f"crash test: {ITERATIONS} kills, {operations} completed operations, {interrupted} interrupted commits"
    )
    assert operations >= ITERATIONS // 2, "the worker hardly ran: the kills landed before any operation"
    assert interrupted > 0, "no kill landed inside a commit, so recovery was never exercised"
