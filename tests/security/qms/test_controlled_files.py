"""Attack class: editing a document's metadata or text directly, around the workflow.

A write that got past the git gateway turns a DRAFT into EFFECTIVE in ``QMS/.meta/...json``, or
changes the text of an approved procedure in place.  The QMS anchors the SHA-256 of the metadata,
draft and effective copy its last operation wrote (in private state, with the audit tail), so such
a file is refused — not shown as approved, not checked out, not built upon — and reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentdock.qms.cli import main as qms_cli
from agentdock.qms.errors import IntegrityError
from agentdock.qms.ids import parse_doc_id
from agentdock.qms.service import Qms


def test_metadata_edited_to_effective_without_approval_is_refused_and_reported(
    attack: Any, root: Path, qms: Qms
) -> None:
    doc = attack.draft_sop()
    meta_file = qms.layout.meta_file(parse_doc_id(doc))
    meta = json.loads(meta_file.read_text())
    meta.update(status="EFFECTIVE", version="1.0", effective_version="1.0")
    meta_file.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    before = attack.snapshot()
    for call in (
        lambda: qms.status("qa", doc),
        lambda: qms.read("bu", doc),
        lambda: qms.checkout("claude", doc),
    ):
        with pytest.raises(IntegrityError) as info:
            call()
        assert info.value.rule == "storage.meta-changed"
    assert attack.snapshot() == before
    assert qms_cli(["--project-root", str(root), "doctor"]) == 1
    row = next(r for r in qms.status("qa").data["documents"] if r["id"] == doc)
    assert row["status"] == "UNREADABLE" and "storage.meta-changed" in row["title"]


def test_an_approved_procedure_edited_in_place_is_not_served_as_approved(
    attack: Any, root: Path, qms: Qms
) -> None:
    doc = attack.effective_sop()
    effective = qms.layout.effective_file(parse_doc_id(doc))
    effective.write_text(effective.read_text().replace("body", "skip the safety check"))
    before = attack.snapshot()
    with pytest.raises(IntegrityError) as info:
        qms.read("bu", doc)
    assert info.value.rule == "storage.effective-changed"
    with pytest.raises(IntegrityError):
        qms.checkout("claude", doc)
    assert attack.snapshot() == before
    assert "skip the safety check" not in qms.read("bu", doc, "0.1").message  # the archive is untouched


def test_an_archived_version_edited_in_place_is_refused(attack: Any, root: Path, qms: Qms) -> None:
    doc = attack.effective_sop()
    archived = qms.layout.archive_file(parse_doc_id(doc), "0.1")
    archived.write_text(archived.read_text() + "\nan extra step nobody reviewed\n")
    before = attack.snapshot()
    with pytest.raises(IntegrityError) as info:
        qms.read("bu", doc, "0.1")
    assert info.value.rule == "storage.archive-changed"
    assert qms_cli(["--project-root", str(root), "doctor"]) == 1
    assert attack.snapshot() == before
    # Later operations do not build on it, and it stays reported: its anchored digest is carried on.
    qms.checkout("claude", doc)
    with pytest.raises(IntegrityError):
        qms.read("bu", doc, "0.1")
