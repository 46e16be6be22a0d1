from __future__ import annotations

from pathlib import Path

import pytest

from agentdock.qms.errors import WorkflowViolation
from agentdock.qms.roster import Roster


def archive(root: Path, rel: str) -> list[str]:
    folder = root / "QMS" / ".archive" / rel
    return sorted(p.name for p in folder.glob("*.md")) if folder.is_dir() else []


def test_create_starts_a_checked_out_draft_at_0_1_with_a_workspace_copy(d) -> None:  # type: ignore[no-untyped-def]
    data = d.qms.create("claude", "SOP", "Cleaning").data
    assert (data["id"], data["version"], data["status"], data["owner"], data["checked_out"]) == (
        "SOP-001",
        "0.1",
        "DRAFT",
        "claude",
        True,
    )
    assert d.workspace("claude", "SOP-001").read_text().startswith("---\ntitle: Cleaning\n")
    assert (d.root / "QMS" / "SOP" / "SOP-001-draft.md").is_file()
    assert d.events("SOP-001") == ["CREATE", "CHECKOUT"]


def test_checkin_writes_the_draft_and_removes_the_workspace_copy(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    assert not d.workspace("claude", doc).exists()
    assert "first body" in (d.root / "QMS" / "SOP" / f"{doc}-draft.md").read_text()
    assert d.qms.status("claude", doc).data["checked_out"] is False


def test_sop_goes_from_draft_through_review_and_approval_to_effective_1_0(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    assert d.qms.route("claude", doc, "review").data["status"] == "IN_REVIEW"
    assert d.inbox("qa") == [f"task-{doc}-review-v0-1.md"]
    d.qms.assign("qa", doc, ["tu_ui"])
    assert d.inbox("tu_ui") == [f"task-{doc}-review-v0-1.md"]
    assert d.qms.review("qa", doc, "recommend").data["status"] == "IN_REVIEW"
    assert d.inbox("qa") == []
    assert d.qms.review("tu_ui", doc, "recommend").data["status"] == "REVIEWED"
    assert d.inbox("tu_ui") == []
    assert d.qms.route("claude", doc, "approval").data["status"] == "IN_APPROVAL"
    assert d.inbox("qa") == [f"task-{doc}-approval-v0-1.md"]
    data = d.qms.approve("qa", doc).data
    assert (data["status"], data["version"], data["effective_version"]) == ("EFFECTIVE", "1.0", "1.0")
    assert d.inbox("qa") == []
    assert (root / "QMS" / "SOP" / f"{doc}.md").is_file()
    assert not (root / "QMS" / "SOP" / f"{doc}-draft.md").exists()
    assert archive(root, "SOP") == [f"{doc}-v0.1.md"]
    assert d.events(doc) == [
        "CREATE",
        "CHECKOUT",
        "CHECKIN",
        "ROUTE_REVIEW",
        "STATUS_CHANGE",
        "ASSIGN",
        "REVIEW",
        "REVIEW",
        "STATUS_CHANGE",
        "ROUTE_APPROVAL",
        "STATUS_CHANGE",
        "APPROVE",
        "STATUS_CHANGE",
        "EFFECTIVE",
    ]


def test_audit_events_carry_time_user_version_and_their_fields(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP", title="Titled")
    d.review(doc, "bu")
    events = d.qms.history("claude", doc).data["events"]
    create = events[0]
    assert create["event"] == "CREATE" and create["title"] == "Titled" and create["user"] == "claude"
    assert create["version"] == "0.1" and create["ts"].endswith("Z")
    route = next(e for e in events if e["event"] == "ROUTE_REVIEW")
    assert route["assignees"] == ["qa"]
    assign = next(e for e in events if e["event"] == "ASSIGN")
    assert assign["assignees"] == ["bu"] and assign["user"] == "qa"
    review = [e for e in events if e["event"] == "REVIEW"][-1]
    assert (review["user"], review["outcome"], review["comment"]) == ("bu", "recommend", "looks right")
    change = [e for e in events if e["event"] == "STATUS_CHANGE"][-1]
    assert (change["from"], change["to"]) == ("IN_REVIEW", "REVIEWED")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_revising_an_effective_sop_keeps_the_old_version_in_force_until_the_new_one_is_approved(
    d, root: Path
) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.review(doc)
    d.approve(doc)
    checkout = d.qms.checkout("claude", doc).data
    assert (checkout["version"], checkout["status"], checkout["effective_version"]) == ("1.1", "DRAFT", "1.0")
    d.edit(doc, "second body")
    d.qms.checkin("claude", doc)
    assert "first body" in d.qms.read("qa", doc, "1.0").message
    assert "second body" in d.qms.read("qa", doc).message
    d.revise(doc, "third body")
    assert d.qms.status("claude", doc).data["version"] == "1.2"
    d.review(doc)
    assert d.approve(doc).data["version"] == "2.0"
    assert archive(root, "SOP") == [f"{doc}-v0.1.md", f"{doc}-v1.0.md", f"{doc}-v1.1.md", f"{doc}-v1.2.md"]
    assert "first body" in (root / "QMS/.archive/SOP" / f"{doc}-v1.0.md").read_text()
    assert "second body" in d.qms.read("qa", doc, "1.1").message
    assert "third body" in (root / "QMS/SOP" / f"{doc}.md").read_text()


def test_each_draft_revision_bumps_the_minor_version_and_archives_the_previous_one(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.revise(doc, "v0.2 body")
    d.revise(doc, "v0.3 body")
    assert d.qms.status("claude", doc).data["version"] == "0.3"
    assert archive(root, "SOP") == [f"{doc}-v0.1.md", f"{doc}-v0.2.md"]


def test_request_updates_blocks_approval_until_the_document_is_revised_and_reviewed_again(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.qms.route("claude", doc, "review")
    d.qms.review("qa", doc, "request_updates", "add a scope section")
    assert d.status(doc) == "REVIEWED"
    with pytest.raises(WorkflowViolation) as info:
        d.qms.route("claude", doc, "approval")
    assert info.value.rule == "workflow.route-approval.reviews"
    d.qms.checkout("claude", doc)
    assert d.status(doc) == "REVIEWED"
    d.edit(doc, "with scope")
    checked_in = d.qms.checkin("claude", doc).data
    assert (checked_in["status"], checked_in["review_outcomes"]) == ("DRAFT", {})
    d.review(doc)
    assert d.approve(doc).data["status"] == "EFFECTIVE"
    assert [c["comment"] for c in d.qms.comments("bu", doc).data["comments"]] == ["add a scope section"]


def test_approval_needs_a_review_from_the_quality_group(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.review(doc, "bu")
    # qa moves to another group after reviewing: no quality review remains.
    Roster(root).set("qa", "reviewer")
    with pytest.raises(WorkflowViolation) as info:
        d.qms.route("claude", doc, "approval")
    assert info.value.rule == "workflow.route-approval.quality-review"


def test_review_completes_only_when_the_last_pending_reviewer_has_reviewed(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.qms.route("claude", doc, "review")
    d.qms.assign("qa", doc, ["bu", "tu_sim"])
    d.qms.review("qa", doc, "recommend")
    d.qms.review("bu", doc, "recommend")
    data = d.qms.status("claude", doc).data
    assert (data["status"], data["pending_assignees"]) == ("IN_REVIEW", ["tu_sim"])
    assert d.qms.review("tu_sim", doc, "recommend").data["status"] == "REVIEWED"


def test_approval_completes_only_when_the_last_pending_approver_has_approved(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.review(doc)
    d.qms.route("claude", doc, "approval")
    d.qms.assign("qa", doc, ["bu"])
    assert d.qms.approve("qa", doc).data["status"] == "IN_APPROVAL"
    assert d.inbox("bu") == [f"task-{doc}-approval-v0-1.md"]
    assert d.qms.approve("bu", doc).data["status"] == "EFFECTIVE"


def test_rejection_returns_to_reviewed_and_clears_every_inbox(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.review(doc)
    d.qms.route("claude", doc, "approval")
    d.qms.assign("qa", doc, ["bu"])
    data = d.qms.reject("bu", doc, "wrong scope").data
    assert (data["status"], data["pending_assignees"], data["version"]) == ("REVIEWED", [], "0.1")
    assert d.inbox("qa") == [] and d.inbox("bu") == []
    assert d.qms.comments("claude", doc).data["comments"][-1]["comment"] == "wrong scope"


@pytest.mark.parametrize(("stage", "expected"), [("review", "DRAFT"), ("approval", "REVIEWED")])
def test_withdraw_pulls_a_document_back_and_clears_its_tasks(d, stage: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    if stage == "approval":
        d.review(doc)
    d.qms.route("claude", doc, stage)
    data = d.qms.withdraw("claude", doc).data
    assert (data["status"], data["pending_assignees"]) == (expected, [])
    assert d.inbox("qa") == []


def test_retiring_an_effective_sop_needs_approval_and_is_final(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.review(doc)
    d.approve(doc)
    routed = d.qms.route("claude", doc, "approval", retire=True).data
    assert (routed["status"], routed["retiring"]) == ("IN_APPROVAL", True)
    data = d.qms.approve("qa", doc).data
    assert (data["status"], data["effective_version"], data["retiring"]) == ("RETIRED", None, False)
    assert f"{doc}-v1.0.md" in archive(root, "SOP")
    for action in (lambda: d.qms.checkout("claude", doc), lambda: d.qms.route("claude", doc, "review")):
        with pytest.raises(WorkflowViolation):
            action()


def test_a_rejected_retirement_leaves_the_sop_effective(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.review(doc)
    d.approve(doc)
    d.qms.route("claude", doc, "approval", retire=True)
    data = d.qms.reject("qa", doc, "still needed").data
    assert (data["status"], data["retiring"]) == ("EFFECTIVE", False)


def test_only_approved_documents_can_be_retired(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    with pytest.raises(WorkflowViolation) as info:
        d.qms.route("claude", doc, "approval", retire=True)
    assert info.value.rule == "workflow.retire.unapproved"


def test_cancel_deletes_a_draft_and_its_tasks_but_keeps_its_history(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("CR")
    d.qms.route("claude", doc, "review")
    assert d.inbox("qa")
    d.qms.withdraw("claude", doc)
    d.qms.route("claude", doc, "review")
    result = d.qms.cancel("claude", doc, confirm=True)
    assert result.data["status"] == "CANCELLED"
    assert not (root / "QMS" / "CR" / doc).exists()
    assert not (root / "QMS" / ".meta" / "CR" / f"{doc}.json").exists()
    assert d.inbox("qa") == []
    assert d.events(doc)[-1] == "CANCEL"
    with pytest.raises(Exception, match="cancelled"):
        d.qms.status("claude", doc)


@pytest.mark.parametrize(
    ("setup", "rule"),
    [
        ("approved", "workflow.cancel.approved"),
        ("checked_out", "workflow.cancel.checked-out"),
        ("unconfirmed", "workflow.cancel.confirm"),
    ],
)
def test_cancel_is_refused_for_approved_checked_out_or_unconfirmed_documents(
    d, setup: str, rule: str
) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    if setup == "approved":
        d.review(doc)
        d.approve(doc)
    elif setup == "checked_out":
        d.qms.checkout("claude", doc)
    before = d.snapshot()
    with pytest.raises(WorkflowViolation) as info:
        d.qms.cancel("claude", doc, confirm=setup != "unconfirmed")
    assert info.value.rule == rule
    assert d.snapshot() == before


def test_a_cr_runs_pre_approval_release_execution_post_approval_and_close(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("CR")
    assert d.qms.route("claude", doc, "review").data["status"] == "IN_PRE_REVIEW"
    assert d.inbox("qa") == [f"task-{doc}-pre_review-v0-1.md"]
    assert d.qms.review("qa", doc, "recommend").data["status"] == "PRE_REVIEWED"
    assert d.qms.route("claude", doc, "approval").data["status"] == "IN_PRE_APPROVAL"
    pre = d.qms.approve("qa", doc).data
    assert (pre["status"], pre["version"], pre["execution_phase"]) == ("PRE_APPROVED", "1.0", "pre_release")
    released = d.qms.release("claude", doc).data
    assert (released["status"], released["execution_phase"]) == ("IN_EXECUTION", "post_release")
    d.revise(doc, "executed step 1")
    assert d.qms.status("claude", doc).data["version"] == "1.1"
    assert archive(root, f"CR/{doc}") == [f"{doc}-v0.1.md", f"{doc}-v1.0.md"]
    d.revise(doc, "executed step 2")
    assert d.qms.status("claude", doc).data["version"] == "1.2"
    assert archive(root, f"CR/{doc}") == [f"{doc}-v0.1.md", f"{doc}-v1.0.md", f"{doc}-v1.1.md"]
    assert d.qms.route("claude", doc, "review").data["status"] == "IN_POST_REVIEW"
    assert d.qms.review("qa", doc, "recommend").data["status"] == "POST_REVIEWED"
    assert d.qms.route("claude", doc, "approval").data["status"] == "IN_POST_APPROVAL"
    post = d.qms.approve("qa", doc).data
    assert (post["status"], post["version"]) == ("POST_APPROVED", "2.0")
    assert d.qms.close("claude", doc).data["status"] == "CLOSED"
    assert "executed step 2" in (root / "QMS" / "CR" / doc / f"{doc}.md").read_text()
    with pytest.raises(WorkflowViolation):
        d.qms.checkout("claude", doc)
    assert d.events(doc)[-2:] == ["CLOSE", "STATUS_CHANGE"]


def test_execution_phase_withdraw_reject_and_checkin_return_to_the_right_states(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("INV")
    d.review(doc)
    d.approve(doc)
    d.qms.release("claude", doc)
    d.qms.route("claude", doc, "review")
    assert d.qms.withdraw("claude", doc).data["status"] == "IN_EXECUTION"
    d.review(doc)
    d.qms.route("claude", doc, "approval")
    assert d.qms.reject("qa", doc, "incomplete evidence").data["status"] == "POST_REVIEWED"
    d.qms.checkout("claude", doc)
    d.edit(doc, "more evidence")
    assert d.qms.checkin("claude", doc).data["status"] == "IN_EXECUTION"


def test_a_variance_belongs_to_a_cr_in_execution_and_lives_in_its_folder(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    parent = d.create("CR")
    with pytest.raises(WorkflowViolation) as info:
        d.qms.create("claude", "VAR", "too early", parent)
    assert info.value.rule == "workflow.create.parent-state"
    d.review(parent)
    d.approve(parent)
    d.qms.release("claude", parent)
    var = d.create("VAR", title="deviation", parent=parent)
    assert var == f"{parent}-VAR-001"
    assert (root / "QMS" / "CR" / parent / f"{var}-draft.md").is_file()
    assert d.qms.route("claude", var, "review").data["status"] == "IN_PRE_REVIEW"
    assert d.create("VAR", parent=parent) == f"{parent}-VAR-002"


def test_out_of_order_steps_are_refused_and_change_nothing(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("CR")
    before = d.snapshot()
    for action, rule in [
        (lambda: d.qms.approve("qa", doc), "workflow.approve"),
        (lambda: d.qms.review("qa", doc, "recommend"), "workflow.review"),
        (lambda: d.qms.release("claude", doc), "workflow.release"),
        (lambda: d.qms.close("claude", doc), "workflow.close"),
        (lambda: d.qms.route("claude", doc, "approval"), "workflow.route-approval"),
        (lambda: d.qms.withdraw("claude", doc), "workflow.withdraw"),
        (lambda: d.qms.checkin("claude", doc), "workflow.checkin.not-checked-out"),
    ]:
        with pytest.raises(WorkflowViolation) as info:
            action()
        assert info.value.rule == rule
    assert d.snapshot() == before


def test_a_checked_out_document_cannot_be_routed_or_checked_out_again(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("SOP")
    d.qms.checkout("claude", doc)
    with pytest.raises(WorkflowViolation, match="checked out"):
        d.qms.route("claude", doc, "review")
    with pytest.raises(WorkflowViolation, match="already checked out"):
        d.qms.checkout("claude", doc)
