"""One test per row of the permission table; every refusal names its rule and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock.qms.errors import PermissionDenied
from agentdock.qms.roster import Roster


def refuse(d, action, rule: str) -> None:  # type: ignore[no-untyped-def]
    before = d.snapshot()
    with pytest.raises(PermissionDenied) as info:
        action()
    assert info.value.rule == rule
    assert d.snapshot() == before


@pytest.mark.parametrize("user", ["qa", "tu_ui", "bu"])
def test_create_is_for_administrators_and_initiators(d, user: str) -> None:  # type: ignore[no-untyped-def]
    refuse(d, lambda: d.qms.create(user, "SOP", "x"), "permission.create")


def test_an_initiator_may_create_and_check_out(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    Roster(root).set("ini", "initiator")
    doc = d.qms.create("ini", "SOP", "by initiator").data["id"]
    assert d.qms.status("ini", doc).data["owner"] == "ini"


@pytest.mark.parametrize("user", ["qa", "tu_sim"])
def test_checkout_is_for_administrators_and_initiators(d, user: str) -> None:  # type: ignore[no-untyped-def]
    doc = d.create()
    refuse(d, lambda: d.qms.checkout(user, doc), "permission.checkout")


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        ("route", "permission.route"),
        ("release", "permission.release"),
        ("close", "permission.close"),
        ("withdraw", "permission.withdraw"),
    ],
)
def test_owner_only_actions_are_refused_to_anyone_else(d, root: Path, action: str, rule: str) -> None:  # type: ignore[no-untyped-def]
    Roster(root).set("admin2", "administrator")
    doc = d.create("CR")
    calls = {
        "route": lambda u: d.qms.route(u, doc, "review"),
        "release": lambda u: d.qms.release(u, doc),
        "close": lambda u: d.qms.close(u, doc),
        "withdraw": lambda u: d.qms.withdraw(u, doc),
    }
    for user in ("admin2", "qa", "bu"):
        refuse(d, lambda u=user: calls[action](u), rule)


def test_checkin_is_for_the_owner_even_with_a_file_in_another_workspace(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.qms.create("claude", "SOP", "x").data["id"]
    d.workspace("bu", doc).write_text("---\ntitle: hijack\nrevision_summary: mine\n---\nbody\n")
    refuse(d, lambda: d.qms.checkin("bu", doc), "permission.checkin")


def test_cancel_is_for_the_owner_or_an_administrator(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    Roster(root).set("ini", "initiator")
    doc = d.qms.create("ini", "SOP", "x").data["id"]
    d.edit(doc, "b", user="ini")
    d.qms.checkin("ini", doc)
    refuse(d, lambda: d.qms.cancel("qa", doc, confirm=True), "permission.cancel")
    assert d.qms.cancel("claude", doc, confirm=True).data["status"] == "CANCELLED"
    own = d.qms.create("ini", "SOP", "y").data["id"]
    d.edit(own, "b", user="ini")
    d.qms.checkin("ini", own)
    assert d.qms.cancel("ini", own, confirm=True).data["status"] == "CANCELLED"


@pytest.mark.parametrize("user", ["claude", "tu_ui"])
def test_assigning_reviewers_is_for_the_quality_group(d, user: str) -> None:  # type: ignore[no-untyped-def]
    doc = d.create()
    d.qms.route("claude", doc, "review")
    refuse(d, lambda: d.qms.assign(user, doc, ["bu"]), "permission.assign")


def test_review_is_for_an_assigned_reviewer_of_any_group(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    Roster(root).set("ini", "initiator")
    doc = d.create()
    d.qms.route("claude", doc, "review")
    refuse(d, lambda: d.qms.review("bu", doc, "recommend"), "permission.review")
    d.qms.assign("qa", doc, ["ini"])
    assert d.qms.review("ini", doc, "recommend").data["review_outcomes"] == {"ini": "recommend"}


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_approve_and_reject_are_for_an_assigned_approver(d, action: str) -> None:  # type: ignore[no-untyped-def]
    doc = d.create()
    d.review(doc)
    d.qms.route("claude", doc, "approval")
    call = (
        (lambda: d.qms.approve("bu", doc)) if action == "approve" else (lambda: d.qms.reject("bu", doc, "no"))
    )
    refuse(d, call, f"permission.{action}")


def test_approvers_must_be_in_quality_or_reviewer(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    Roster(root).set("ini", "initiator")
    doc = d.create()
    d.review(doc)
    d.qms.route("claude", doc, "approval")
    refuse(d, lambda: d.qms.assign("qa", doc, ["ini"]), "permission.approve.group")


@pytest.mark.parametrize("user", ["claude", "qa", "tu_ui", "tu_scene", "tu_sketch", "tu_sim", "bu"])
def test_read_status_history_comments_inbox_and_workspace_are_for_any_known_user(d, user: str) -> None:  # type: ignore[no-untyped-def]
    doc = d.create()
    assert "first body" in d.qms.read(user, doc).message
    assert d.qms.status(user, doc).data["id"] == doc
    assert d.qms.status(user).data["documents"][0]["id"] == doc
    assert d.qms.history(user, doc).data["events"]
    assert d.qms.comments(user, doc).data["comments"] == []
    assert d.qms.inbox(user).data["user"] == user
    assert d.qms.workspace(user).data["user"] == user


def test_unknown_users_may_do_nothing(d) -> None:  # type: ignore[no-untyped-def]
    doc = d.create()
    for action in (
        lambda: d.qms.read("mallory", doc),
        lambda: d.qms.inbox("mallory"),
        lambda: d.qms.create("mallory", "SOP", "x"),
    ):
        refuse(d, action, "user.unknown")
