"""SIGKILL a process at random points while it checks in, routes, reviews and approves; nothing is half-written.

Each iteration forks a worker that walks three SOPs round their life cycle
(checkout -> checkin -> review -> approval -> EFFECTIVE -> checkout ...) and
reports every operation it saw succeed; the test kills it with SIGKILL after a
random delay, then checks every document the way the next process would see it.

The keyed test does the same to a worker creating documents the way qms-mcp does
under an ``Idempotency-Key``; after each kill the interrupted key is retried (as the
proxy would) and every key must have produced exactly one document.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from agentdock import paths
from agentdock.mcphost import IdempotencyStore
from agentdock.mcphost.files import atomic_write_text
from agentdock.qms.documents import parse_document
from agentdock.qms.ids import parse_doc_id
from agentdock.qms.index import shard_of, summary
from agentdock.qms.keyed import apply_once
from agentdock.qms.model import Meta, Status
from agentdock.qms.service import Qms

DOCS = ("SOP-001", "SOP-002", "SOP-003")
ITERATIONS = 200
KEYED_ITERATIONS = 150


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
    trail = qms.storage.check_audit(doc_id)
    assert trail.ok, f"{doc}: a SIGKILL left an audit trail the QMS does not vouch for: {trail.summary}"
    assert qms.storage.quarantined() == [], "a genuine journal was quarantined"
    current = qms.queries.current_file(meta)
    parse_document(current.read_text(), source=str(current))
    for archived in (layout.qms / ".archive").rglob(f"{doc}-v*.md"):
        parse_document(archived.read_text(), source=str(archived))
    tasks = {p.parent.parent.name for p in paths.users_dir(qms.root).glob(f"*/inbox/task-{doc}-*.md")}
    assert tasks == set(meta.pending_assignees), (
        f"{doc}: inbox tasks {tasks} vs pending {meta.pending_assignees}"
    )
    if meta.checked_out:
        parse_document((paths.agent_workspace_dir(qms.root, "claude") / f"{doc}.md").read_text())
    # The index row rode in the same journal: after recovery it says what the files say, and is
    # fresh as it stands (no rebuild needed: its signature is the metadata file's).
    shard = qms.storage.index.load(shard_of(doc_id))
    assert shard is not None and doc in shard, f"{doc}: no index row after recovery"
    assert shard[doc].view == summary(qms.queries.describe(meta)), f"{doc}: index row differs from the files"
    assert shard[doc].sig == qms.storage.index.signature(doc_id), f"{doc}: index row is stale"


@pytest.mark.slow
def test_documents_survive_sigkill_at_random_points_200_times(tmp_path: Path) -> None:
    from agentdock.qms.project import init_project

    init_project(tmp_path)
    setup = Qms(tmp_path)
    started = time.perf_counter()
    for doc in DOCS:
        assert setup.create("claude", "SOP", doc).data["id"] == doc
    # Kill points spread over a few operations' time on this machine (fsync cost varies with load),
    # so the kills land inside operations rather than before the first one completes.
    window_s = max(0.08, 4 * (time.perf_counter() - started) / len(DOCS))
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
        time.sleep(rng.uniform(0.0, window_s))  # the random kill point, not a wait for an event
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


# -- Idempotency-Key across a kill ------------------------------------------------------------------


def keyed_create(qms: Qms, store: IdempotencyStore, n: int) -> tuple[dict[str, Any], bool]:
    """What qms-mcp does for ``qms_create`` sent with ``Idempotency-Key: key-<n>``."""
    args = {"doc_type": "INV", "title": f"Keyed {n}", "parent": None}
    return apply_once(
        qms,
        store,
        agent="claude",
        key=f"key-{n}",
        operation="qms_create",
        arguments=args,
        op=lambda: qms.create("claude", "INV", f"Keyed {n}"),
    )


def keyed_worker(root: Path, conn: Connection, first: int) -> None:
    qms, store = Qms(root), IdempotencyStore(root, "qms")
    conn.send(("ready", first, None))
    n = first
    while True:
        conn.send(("start", n, None))
        payload, _ = keyed_create(qms, store, n)
        conn.send(("done", n, payload))
        n += 1


def keyed_titles(qms: Qms) -> Counter[str]:
    qms.storage.recover_all()
    return Counter(
        qms.queries.title(qms.storage.load_meta(doc))
        for doc in qms.storage.all_documents()
        if doc.text.startswith("INV")
    )


@pytest.mark.slow
def test_a_keyed_create_killed_at_any_point_and_retried_with_its_key_is_applied_exactly_once(
    tmp_path: Path,
) -> None:
    from agentdock.qms.project import init_project

    init_project(tmp_path)
    # A person raised the creation limit for this project (every iteration creates documents).
    (tmp_path / "QMS" / ".meta" / "limits.json").write_text('{"max_creates_per_window": 100000}')
    rng = random.Random(int(os.environ.get("AGENTDOCK_CRASH_SEED", "20260131")) + 1)
    context = multiprocessing.get_context("fork")
    answered: dict[int, dict[str, Any]] = {}  # key number -> the payload the worker's caller received
    next_key = 0
    retried = 0
    interrupted_commits = 0  # kills that left a journal: the record must come from its replay
    for iteration in range(KEYED_ITERATIONS):
        parent_end, child_end = context.Pipe(duplex=False)
        process = context.Process(target=keyed_worker, args=(tmp_path, child_end, next_key), daemon=True)
        process.start()
        child_end.close()
        assert parent_end.poll(30), "worker never became ready"
        parent_end.recv()
        time.sleep(rng.uniform(0.0, 0.05))  # the random kill point, not a wait for an event
        os.kill(process.pid or 0, signal.SIGKILL)
        process.join(timeout=30)
        assert process.exitcode == -signal.SIGKILL
        in_flight: int | None = None
        while parent_end.poll():
            try:
                kind, n, payload = parent_end.recv()
            except (EOFError, OSError):
                break
            if kind == "start":
                in_flight = n
            elif kind == "done":
                answered[n] = payload
                in_flight = None
        parent_end.close()
        qms, store = Qms(tmp_path), IdempotencyStore(tmp_path, "qms")
        interrupted_commits += len(list((qms.layout.qms / ".meta" / "INV").glob(".*.journal")))
        if in_flight is not None:
            # The caller never got an answer: like the proxy, it retries with the same key.
            payload, _ = keyed_create(qms, store, in_flight)
            assert not payload["is_error"], (
                f"iteration {iteration}: retry of key-{in_flight} refused: {payload}"
            )
            answered[in_flight] = payload
            next_key = in_flight + 1
            retried += 1
        elif answered:
            next_key = max(answered) + 1
        if answered:
            last = max(answered)
            assert keyed_create(qms, store, last) == (answered[last], True), f"key-{last} not replayed"
        titles = keyed_titles(qms)
        doubled = sorted(t for t, count in titles.items() if count > 1)
        assert not doubled, f"iteration {iteration}: applied twice under one key: {doubled}"
        assert set(titles) == {f"Keyed {n}" for n in answered}, (
            f"iteration {iteration}: a keyed create was lost"
        )
    print(
        f"keyed crash test: {KEYED_ITERATIONS} kills, {len(answered)} keys, {retried} retried after a kill, "
        f"{interrupted_commits} inside a commit"
    )
    assert retried > KEYED_ITERATIONS // 2, "the kills hardly ever interrupted a keyed create"
    assert interrupted_commits > 0, (
        "no kill landed inside a commit, so the journal's record was never replayed"
    )
