"""``status`` of everything from a warm process (:mod:`agentdock.qms.overview`): what it keeps in
memory never answers for files that changed since — every read still checks each document."""

from __future__ import annotations

import os
import shutil
from typing import Any

from tests.unit.qms.conftest import Driver

from agentdock.qms.ids import parse_doc_id
from agentdock.qms.index import SUMMARY
from agentdock.qms.service import Qms


def full_scan(qms: Qms) -> list[dict[str, Any]]:
    return [qms.queries.scan_row(doc.text).view or {} for doc in qms.storage.all_documents()]


def listed(qms: Qms) -> list[dict[str, Any]]:
    return list(qms.status("qa").data["documents"])


def test_a_write_by_another_process_shows_in_the_next_status_of_a_warm_one(qms: Qms, d: Driver) -> None:
    doc = d.create("SOP", "Before")
    assert [r["title"] for r in listed(qms)] == ["Before"]  # warm: the shard is kept in memory
    other = Qms(qms.root)  # another process (the CLI beside the server)
    other.checkout("claude", doc)
    workspace = qms.layout.workspace_file("claude", parse_doc_id(doc))
    workspace.write_text(workspace.read_text().replace("title: Before", "title: After"))
    other.checkin("claude", doc)
    other.create("claude", "SOP", "Made elsewhere")
    rows = listed(qms)
    assert [(r["id"], r["title"]) for r in rows] == [(doc, "After"), ("SOP-002", "Made elsewhere")]
    assert rows == full_scan(qms)


def test_a_warm_status_sees_metadata_rewritten_in_place_with_the_old_mtime(qms: Qms, d: Driver) -> None:
    doc = d.create("SOP", "Watched")
    listed(qms)
    meta = qms.layout.meta_file(parse_doc_id(doc))
    mtime = meta.stat().st_mtime_ns
    with meta.open("r+b") as handle:  # same inode, same size; only ctime tells
        data = handle.read()
        handle.seek(0)
        handle.write(data.replace(b'"DRAFT"', b'"CLOSED"'))
    os.utime(meta, ns=(meta.stat().st_atime_ns, mtime))
    rows = listed(qms)
    assert rows == full_scan(qms)
    assert rows[0]["status"] == "UNREADABLE" and "meta-changed" in rows[0]["title"]


def test_a_warm_status_follows_documents_removed_and_restored_behind_its_back(
    qms: Qms, d: Driver, tmp_path_factory: Any
) -> None:
    first, second = d.create("SOP", "Stays"), d.create("CR", "Comes and goes")
    listed(qms)
    meta = qms.layout.meta_file(parse_doc_id(second))
    saved = tmp_path_factory.mktemp("saved") / meta.name
    shutil.copy2(meta, saved)
    meta.unlink()  # `git checkout` of a branch without it
    assert [r["id"] for r in listed(qms)] == [first] and listed(qms) == full_scan(qms)
    shutil.copy2(saved, meta)  # and back: a new inode, so the row is rechecked from the files
    rows = listed(qms)
    assert [r["id"] for r in rows] == [second, first] and rows == full_scan(qms)


def test_a_link_planted_in_place_of_a_metadata_file_is_never_followed_by_a_warm_status(
    qms: Qms, d: Driver
) -> None:
    doc = d.create("SOP", "Target")
    listed(qms)
    meta = qms.layout.meta_file(parse_doc_id(doc))
    planted = meta.with_name("elsewhere.json")
    meta.rename(planted)
    meta.symlink_to(planted.name)
    rows = listed(qms)
    assert rows == full_scan(qms)
    assert [r["status"] for r in rows] == ["UNREADABLE"]


def test_status_rows_are_the_summary_the_text_shows_and_status_of_one_has_the_rest(
    qms: Qms, d: Driver
) -> None:
    doc = d.create("CR", "Summarised")
    result = qms.status("qa")
    (row,) = result.data["documents"]
    assert tuple(row) == SUMMARY
    assert all(str(row[key]) in result.message for key in SUMMARY)
    one = qms.status("qa", doc).data
    assert one["owner"] == row["owner"] and "pending_assignees" in one
