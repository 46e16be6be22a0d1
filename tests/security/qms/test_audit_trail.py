"""Attack class: rolling back or editing the append-only audit trail.

Each line carries ``seq`` and ``prev`` (hash of the line before); the last line's hash and seq
are anchored in private state.  A rollback (``git checkout -- QMS/.audit/...`` restoring an
older file), an edit, a deletion, a forged append or a whole re-chained rewrite is reported by
history, status and doctor with the entry it breaks at, and nothing is appended to such a trail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentdock.qms.audit import genesis
from agentdock.qms.cli import main as qms_cli
from agentdock.qms.errors import IntegrityError
from agentdock.qms.ids import parse_doc_id
from agentdock.qms.service import Qms


def rechain(lines: list[str], doc: str) -> list[str]:
    """What a careful attacker does: recompute every prev so the chain itself holds."""
    prev, out = genesis(doc), []
    for line in lines:
        event = json.loads(line)
        event["prev"] = prev
        text = json.dumps(event)
        out.append(text)
        prev = hashlib.sha256(text.encode()).hexdigest()
    return out


def edit_comment(lines: list[str], doc: str) -> list[str]:
    return [line.replace("fine", "REJECTED, dangerous") for line in lines]


def drop_middle(lines: list[str], doc: str) -> list[str]:
    return lines[:2] + lines[3:]


def forged_append(lines: list[str], doc: str) -> list[str]:
    last = json.loads(lines[-1])
    event = {
        "ts": last["ts"],
        "event": "APPROVE",
        "user": "bu",
        "version": last["version"],
        "seq": last["seq"] + 1,
        "prev": hashlib.sha256(lines[-1].encode()).hexdigest(),
    }
    return [*lines, json.dumps(event)]


def rechained_edit(lines: list[str], doc: str) -> list[str]:
    return rechain(edit_comment(lines, doc), doc)


TAMPERING: dict[str, tuple[Callable[[list[str], str], list[str]], str]] = {
    "edited line": (edit_comment, "hash chain broken"),
    "deleted line": (drop_middle, "sequence number"),
    "forged append": (forged_append, "not written by the QMS"),
    "re-chained rewrite": (rechained_edit, "differs from the one the QMS wrote"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_a_tampered_trail_is_reported_with_the_entry_and_nothing_is_appended(
    attack: Any, root: Path, qms: Qms, kind: str
) -> None:
    doc = attack.effective_sop()
    trail = qms.layout.audit_file(parse_doc_id(doc))
    tamper, expected = TAMPERING[kind]
    lines = trail.read_text().splitlines()
    trail.write_text("\n".join(tamper(lines, doc)) + "\n")
    before = attack.snapshot()
    history = qms.history("qa", doc)
    assert history.data["audit"].startswith("BROKEN from entry") and expected in history.data["audit"]
    assert history.message.startswith("WARNING: audit trail BROKEN")
    assert "WARNING: audit trail BROKEN" in qms.status("qa", doc).message
    assert "WARNING" in qms.comments("qa", doc).message
    with pytest.raises(IntegrityError) as info:
        qms.checkout("claude", doc)
    assert info.value.rule == "audit.broken"
    assert qms_cli(["--project-root", str(root), "doctor"]) == 1
    assert attack.snapshot() == before


def test_rolling_the_whole_trail_back_to_an_older_copy_is_detected(attack: Any, root: Path, qms: Qms) -> None:
    """``git checkout -- QMS/.audit/...``: the older file is a perfectly valid chain on its own."""
    doc = attack.draft_sop()
    trail = qms.layout.audit_file(parse_doc_id(doc))
    older = trail.read_bytes()
    qms.route("claude", doc, "review")
    qms.review("qa", doc, "request_updates", "section 2 is wrong")
    trail.write_bytes(older)
    before = attack.snapshot()
    check = qms.storage.check_audit(parse_doc_id(doc))
    assert not check.ok and "rolled back" in check.reason and check.broken_at == older.count(b"\n") + 1
    assert "BROKEN" in qms.history("claude", doc).message
    with pytest.raises(IntegrityError):
        qms.checkout("claude", doc)
    assert attack.snapshot() == before


def test_an_untampered_trail_reads_as_intact_and_doctor_is_healthy(attack: Any, root: Path, qms: Qms) -> None:
    doc = attack.effective_sop()
    assert qms.history("qa", doc).data["audit"] == "intact"
    assert qms_cli(["--project-root", str(root), "doctor"]) == 0
