"""Bad input gets a clear refusal naming the rule, and nothing on disk changes."""

from __future__ import annotations

import os

import pytest

from agentdock.qms.documents import MAX_DOCUMENT_BYTES
from agentdock.qms.errors import BadRequest, InvalidDocument, NotFound, QmsError


def checked_out(d) -> str:  # type: ignore[no-untyped-def]
    doc: str = d.create()
    d.qms.checkout("claude", doc)
    return doc


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        ("no front matter at all\n", "document.front-matter"),
        ("---\ntitle: [unclosed\nrevision_summary: x\n---\nbody\n", "document.front-matter"),
        ("---\ntitle: T\nrevision_summary: x\nbody without closing\n", "document.front-matter"),
        ("---\n- a list\n---\nbody\n", "document.front-matter"),
        ("---\ntitle: T\nrevision_summary: x\nstatus: EFFECTIVE\n---\nbody\n", "document.front-matter"),
        ("---\ntitle: ''\nrevision_summary: x\n---\nbody\n", "document.title"),
        ("---\ntitle: T\n---\nbody\n", "document.revision-summary"),
        ("---\ntitle: T\nrevision_summary: x\n---\n" + "x" * (MAX_DOCUMENT_BYTES + 1), "document.size"),
    ],
)
def test_a_broken_workspace_file_is_refused_at_checkin(d, content: str, rule: str) -> None:  # type: ignore[no-untyped-def]
    doc = checked_out(d)
    d.workspace("claude", doc).write_text(content)
    before = d.snapshot()
    with pytest.raises(InvalidDocument) as info:
        d.qms.checkin("claude", doc)
    assert info.value.rule == rule
    assert d.snapshot() == before


def test_a_workspace_symlink_is_refused_so_no_file_outside_can_be_pulled_in(d, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    doc = checked_out(d)
    secret = tmp_path_factory.mktemp("outside") / "secret.md"
    secret.write_text("---\ntitle: secret\nrevision_summary: s\n---\nsecret\n")
    workspace = d.workspace("claude", doc)
    workspace.unlink()
    os.symlink(secret, workspace)
    before = d.snapshot()
    with pytest.raises(InvalidDocument) as info:
        d.qms.checkin("claude", doc)
    assert info.value.rule == "document.file"
    assert d.snapshot() == before


def test_a_missing_workspace_file_is_reported(d) -> None:  # type: ignore[no-untyped-def]
    doc = checked_out(d)
    d.workspace("claude", doc).unlink()
    with pytest.raises(NotFound) as info:
        d.qms.checkin("claude", doc)
    assert info.value.rule == "workspace.missing"


@pytest.mark.parametrize("doc_id", ["../SOP-001", "SOP-001/../../x", "/etc/passwd", "SOP-001\x00"])
def test_path_traversal_in_ids_is_refused_for_every_operation(d, doc_id: str) -> None:  # type: ignore[no-untyped-def]
    d.create()
    before = d.snapshot()
    for action in (d.qms.checkout, d.qms.checkin, d.qms.read, d.qms.history, d.qms.approve):
        with pytest.raises(BadRequest) as info:
            action("claude", doc_id)
        assert info.value.rule == "id.format"
    assert d.snapshot() == before


@pytest.mark.parametrize(
    ("call", "rule"),
    [
        (lambda q: q.create("claude", "MEMO", "x"), "id.type"),
        (lambda q: q.create("claude", "SOP", "\n"), "document.title"),
        (lambda q: q.create("claude", "SOP", "x" * 500), "document.title.size"),
        (lambda q: q.create("claude", "VAR", "x"), "create.parent"),
        (lambda q: q.create("claude", "SOP", "x", "CR-001"), "create.parent"),
        (lambda q: q.read("claude", "SOP-001", "latest"), "version.format"),
        (lambda q: q.review("qa", "SOP-001", "maybe"), "review.outcome"),
        (lambda q: q.route("claude", "SOP-001", "sideways"), "route.workflow"),
        (lambda q: q.reject("qa", "SOP-001", "  "), "reject.comment"),
        (lambda q: q.assign("qa", "SOP-001", ["../x"]), "user.format"),
    ],
)
def test_malformed_requests_name_the_rule(d, call, rule: str) -> None:  # type: ignore[no-untyped-def]
    d.create()
    before = d.snapshot()
    with pytest.raises(QmsError) as info:
        call(d.qms)
    assert info.value.rule == rule
    assert d.snapshot() == before


def test_reading_a_version_that_never_existed_is_not_found(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create()
    with pytest.raises(NotFound) as info:
        d.qms.read("qa", doc, "7.0")
    assert info.value.rule == "document.version"
