"""The document index (``.agentdock/qms/index/``): kept in the operation's own journal, rebuilt when
missing, unreadable or stale, and always answering what a full scan of the files answers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.qms.conftest import Driver

from agentdock.qms.errors import QmsError
from agentdock.qms.ids import parse_doc_id
from agentdock.qms.index import FORMAT, shard_of, summary
from agentdock.qms.project import init_project
from agentdock.qms.service import Qms


def full_scan(qms: Qms) -> list[dict[str, Any]]:
    """What ``status`` of everything shows, computed from the files alone (no index)."""
    return [qms.queries.scan_row(doc.text).view or {} for doc in qms.storage.all_documents()]


def creations_by_scan(qms: Qms, user: str) -> list[str]:
    return sorted(qms.storage.creations(user))


def indexed(qms: Qms) -> list[dict[str, Any]]:
    return list(qms.status("qa").data["documents"])


def shard_row(qms: Qms, doc_id: str) -> Any:
    rows = qms.storage.index.load(shard_of(parse_doc_id(doc_id)))
    return None if rows is None else rows.get(doc_id)


def test_each_operation_writes_its_documents_row_in_the_same_commit(qms: Qms, d: Driver) -> None:
    doc = d.create("CR", "A change")  # create + checkin
    steps = [
        lambda: d.review(doc),
        lambda: d.approve(doc),
        lambda: qms.release("claude", doc),
        lambda: d.revise(doc, "executed"),
        lambda: qms.route("claude", doc, "review"),
        lambda: qms.review("qa", doc, "recommend"),
        lambda: qms.route("claude", doc, "approval"),
        lambda: qms.approve("qa", doc),
        lambda: qms.close("claude", doc),
    ]
    for step in [lambda: None, *steps]:
        step()
        row = shard_row(qms, doc)  # read straight from the shard file: no rebuild involved
        meta = qms.storage.load_meta(parse_doc_id(doc))
        assert row is not None and row.view == summary(qms.queries.describe(meta))
        assert row.sig == qms.storage.index.signature(parse_doc_id(doc))
        assert (row.creator, row.created) == qms.storage.creation(parse_doc_id(doc))
    assert row.view["status"] == "CLOSED"
    assert indexed(qms) == full_scan(qms)


def test_a_cancelled_document_leaves_status_but_still_counts_for_the_creation_limit(qms: Qms) -> None:
    doc = qms.create("claude", "SOP", "Short lived").data["id"]
    qms.checkin("claude", doc)
    qms.cancel("claude", doc, confirm=True)
    row = shard_row(qms, doc)
    assert row is not None and row.view is None and row.creator == "claude"
    assert indexed(qms) == full_scan(qms) == []
    assert sorted(qms.creations("claude")) == creations_by_scan(qms, "claude")
    assert len(qms.creations("claude")) == 1


def test_a_deleted_or_corrupted_index_is_rebuilt_with_the_same_answers(qms: Qms, d: Driver) -> None:
    for title in ("One", "Two", "Three"):
        d.create("CR", title)
    d.create("SOP", "Procedure")
    expected = full_scan(qms)
    folder = qms.storage.index.folder
    for damage in ("delete", "garbage", "wrong-shape", "truncated"):
        if damage == "delete":
            shutil.rmtree(folder)
        else:
            for shard in folder.glob("*.json"):
                text = shard.read_text()
                shard.write_text(
                    {
                        "garbage": "not json{",
                        "wrong-shape": '{"format": 1, "docs": []}',
                        "truncated": text[:20],
                    }[damage]
                )
        fresh = Qms(qms.root)  # no in-memory cache: what the next process sees
        assert indexed(fresh) == expected, damage
        assert sorted(fresh.creations("claude")) == creations_by_scan(fresh, "claude")
        assert all(json.loads(p.read_text())["format"] == FORMAT for p in folder.glob("*.json"))


@pytest.mark.parametrize("another_document", [False, True])
def test_a_branch_switch_under_the_qms_is_seen_as_stale_and_answered_from_the_files(
    qms: Qms, d: Driver, tmp_path_factory: Any, another_document: bool
) -> None:
    first = d.create("SOP", "Before")
    saved = tmp_path_factory.mktemp("branch") / "QMS"
    shutil.copytree(qms.root / "QMS", saved)
    d.review(first)  # the private anchors and index move on ...
    if another_document:
        d.create("SOP", "Only on this branch")
    shutil.rmtree(qms.root / "QMS")
    shutil.copytree(saved, qms.root / "QMS")  # ... and `git checkout other-branch` puts the old files back
    rows = indexed(qms)
    assert rows == full_scan(qms)
    assert [r["id"] for r in rows] == [first]  # a document made on the other branch is gone with it
    assert rows[0]["status"] == "UNREADABLE" and "meta-changed" in rows[0]["title"]


def test_metadata_rewritten_in_place_with_the_same_bytes_is_still_rechecked(qms: Qms, d: Driver) -> None:
    doc = d.create("SOP", "Watched")
    meta = qms.layout.meta_file(parse_doc_id(doc))
    before = shard_row(qms, doc).sig
    with meta.open("r+b") as handle:  # an in-place write: same inode, same size, new ctime
        data = handle.read()
        handle.seek(0)
        handle.write(data)
    os.utime(meta, ns=(meta.stat().st_atime_ns, before[2]))  # even with the old mtime put back
    assert qms.storage.index.signature(parse_doc_id(doc)) != before
    assert indexed(qms) == full_scan(qms)
    assert shard_row(qms, doc).sig == qms.storage.index.signature(parse_doc_id(doc))  # rebuilt


def test_ids_continue_past_999_sort_numerically_and_earlier_ids_are_unchanged(qms: Qms, d: Driver) -> None:
    early = [d.create("CR", f"Early {i}") for i in range(2)]
    assert early == ["CR-001", "CR-002"]
    # CR-999 existed once and was cancelled: only its trail remains, and numbers are never reused.
    trail = qms.layout.audit_file(parse_doc_id("CR-999"))
    trail.write_text("")
    created = qms.create("claude", "CR", "Past the old limit").data["id"]
    assert created == "CR-1000"
    assert qms.create("claude", "CR", "And on").data["id"] == "CR-1001"
    rows = indexed(qms)
    assert [r["id"] for r in rows] == ["CR-001", "CR-002", "CR-1000", "CR-1001"]
    assert rows == full_scan(qms)
    assert shard_of(parse_doc_id("CR-1000")) == "CR-10"
    assert qms.status("qa", "CR-001").data["title"] == "Early 0"


# -- property: any sequence of operations and index damage, the index answers like a full scan -------

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "create-sop",
                "create-cr",
                "checkin",
                "checkout",
                "route-review",
                "review",
                "route-approval",
                "approve",
                "withdraw",
                "cancel",
                "delete-index",
                "corrupt-shard",
                "touch-meta",
                "forget-cache",
            ]
        ),
        st.integers(min_value=0, max_value=5),
    ),
    min_size=1,
    max_size=14,
)


@contextlib.contextmanager
def project(tmp: Path) -> Iterator[Qms]:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    init_project(tmp)
    yield Qms(tmp)


def apply(qms: Qms, op: str, pick: int) -> None:
    docs = [doc.text for doc in qms.storage.all_documents()]
    doc = docs[pick % len(docs)] if docs else None
    actions: dict[str, Any] = {
        "create-sop": lambda: qms.create("claude", "SOP", f"Procedure {pick}"),
        "create-cr": lambda: qms.create("claude", "CR", f"Change {pick}"),
        "checkin": lambda: qms.checkin("claude", doc),
        "checkout": lambda: qms.checkout("claude", doc),
        "route-review": lambda: qms.route("claude", doc, "review"),
        "review": lambda: qms.review("qa", doc, "recommend"),
        "route-approval": lambda: qms.route("claude", doc, "approval"),
        "approve": lambda: qms.approve("qa", doc),
        "withdraw": lambda: qms.withdraw("claude", doc),
        "cancel": lambda: qms.cancel("claude", doc, confirm=True),
    }
    folder = qms.storage.index.folder
    shards = sorted(folder.glob("*.json")) if folder.exists() else []
    if op == "delete-index":
        shutil.rmtree(folder, ignore_errors=True)
    elif op == "corrupt-shard" and shards:
        shards[pick % len(shards)].write_text("{")
    elif op == "touch-meta" and doc is not None:
        meta = qms.layout.meta_file(parse_doc_id(doc))
        meta.write_bytes(meta.read_bytes())
    elif op == "forget-cache":
        qms.storage.index.forget()  # what another process would see
    elif op in actions and (doc is not None or op.startswith("create")):
        with contextlib.suppress(QmsError):  # refusals are part of the walk
            actions[op]()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(OPS)
def test_any_sequence_of_operations_and_index_damage_answers_like_a_full_scan(
    tmp_path: Path, ops: list[tuple[str, int]]
) -> None:
    # Durability is not what this test is about: fsync off keeps 25 walks within seconds.
    with mock.patch("os.fsync"), project(tmp_path / "p") as qms:
        for op, pick in ops:
            apply(qms, op, pick)
            assert indexed(qms) == full_scan(qms), (op, pick)
            assert sorted(qms.creations("claude")) == creations_by_scan(qms, "claude")
