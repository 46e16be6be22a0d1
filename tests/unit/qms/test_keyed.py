"""Keyed mutations (``Idempotency-Key``): the record rides the operation's own journal commit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentdock.mcphost import IdempotencyStore
from agentdock.qms.errors import BadRequest
from agentdock.qms.journal import CorruptJournal
from agentdock.qms.keyed import apply_once
from agentdock.qms.service import Qms, Result


def keyed(qms: Qms, key: str, title: str, *, doc_type: str = "SOP") -> tuple[dict[str, Any], bool]:
    return apply_once(
        qms,
        IdempotencyStore(qms.root, "qms"),
        agent="claude",
        key=key,
        operation="qms_create",
        arguments={"doc_type": doc_type, "title": title},
        op=lambda: qms.create("claude", doc_type, title),
    )


def test_the_extra_file_is_written_in_the_operations_journal_commit(qms: Qms) -> None:
    journals: list[dict[str, Any]] = []
    commit = qms.storage.commit

    def spy(change: Any, *, base_seq: int) -> None:
        commit(change, base_seq=base_seq)
        journals.append({qms.layout.relative(p): t for p, t in change.writes.items()})

    qms.storage.commit = spy  # type: ignore[method-assign]
    extra = qms.root / ".agentdock" / "idempotency" / "qms" / ("ab" * 32 + ".json")

    def make(result: Result) -> tuple[Path, str]:
        return extra, f"{result.data['id']} {result.data['title']} {result.data['status']}"

    with qms.committing_with(make):
        result = qms.create("claude", "SOP", "Riding along")
    assert extra.read_text() == "SOP-001 Riding along DRAFT"
    assert journals[0][f".agentdock/idempotency/qms/{'ab' * 32}.json"] == "SOP-001 Riding along DRAFT"
    assert result.data["workspace_file"] == ".claude/users/claude/workspace/SOP-001.md"


def test_a_retried_key_returns_the_result_recorded_with_the_operation(qms: Qms) -> None:
    first = keyed(qms, "k1", "Once")
    again = keyed(qms, "k1", "Once")
    assert first[1] is False and again == (first[0], True)
    assert first[0]["structured"]["id"] == "SOP-001"
    assert [doc.text for doc in qms.storage.all_documents()] == ["SOP-001"]
    (record,) = (qms.root / ".agentdock" / "idempotency" / "qms").glob("*.json")
    assert json.loads(record.read_text())["result"] == first[0]


def test_a_refusal_is_recorded_and_a_bad_request_is_not(qms: Qms) -> None:
    refused = apply_once(
        qms,
        IdempotencyStore(qms.root, "qms"),
        agent="qa",
        key="k2",
        operation="qms_create",
        arguments={"doc_type": "SOP", "title": "Not mine"},
        op=lambda: qms.create("qa", "SOP", "Not mine"),
    )
    assert refused[0]["is_error"] and refused[0]["structured"]["rule"] == "permission.create"
    with pytest.raises(BadRequest):
        keyed(qms, "k3", "Bad type", doc_type="NOPE")
    assert keyed(qms, "k3", "Good", doc_type="SOP")[1] is False  # the bad request left no record
    assert not list((qms.layout.qms / ".meta" / "SOP").glob(".*.journal"))


def test_an_extra_file_outside_the_idempotency_records_is_refused_before_anything_is_written(
    qms: Qms,
) -> None:
    """The journal's path policy covers commit extras too: nothing but a record may ride along."""
    extra = qms.root / ".git" / "config"

    def make(result: Result) -> tuple[Path, str]:
        return extra, "[core]\n\tfsmonitor = evil\n"

    with pytest.raises(CorruptJournal, match="may not write"), qms.committing_with(make):
        qms.create("claude", "SOP", "Riding along")
    assert not extra.exists()
    assert qms.storage.all_documents() == []
