"""The trust mechanisms one at a time: safe file access, the journal's path policy, the audit
chain check, the roster pin and the limits file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agentdock.qms.audit import Anchor, chain_events, verify_trail
from agentdock.qms.cli import main as qms_cli
from agentdock.qms.errors import StorageError, UnsafePath
from agentdock.qms.ids import Layout, parse_doc_id
from agentdock.qms.journal import CorruptJournal, JournalSeal, check_paths
from agentdock.qms.limits import Limits, parse_limits
from agentdock.qms.roster import Roster
from agentdock.qms.safefs import SafeRoot
from agentdock.qms.service import Qms


# -- SafeRoot ---------------------------------------------------------------------------------------
def test_safe_root_refuses_a_link_at_any_component_and_outside_paths(tmp_path: Path) -> None:
    safe = SafeRoot(tmp_path)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("ok")
    assert safe.read_text(tmp_path / "a" / "b" / "f.txt") == "ok"
    os.symlink(tmp_path / "a", tmp_path / "link")
    for bad in ("link/b/f.txt", "a/../a/b/f.txt", "/etc/passwd", "a//b"):
        with pytest.raises(UnsafePath):
            safe.read_text(bad)
    os.symlink(tmp_path / "a" / "b" / "f.txt", tmp_path / "a" / "b" / "g.txt")
    with pytest.raises(UnsafePath) as info:
        safe.read_text("a/b/g.txt")
    assert info.value.rule == "path.symlink"
    assert safe.kind("a/b/g.txt") == "link" and not safe.is_file("a/b/g.txt")
    with pytest.raises(UnsafePath):
        safe.write_text("link/b/new.txt", "x")
    assert not (tmp_path / "a" / "b" / "new.txt").exists()


def test_safe_root_reads_are_bounded_and_regular_only(tmp_path: Path) -> None:
    safe = SafeRoot(tmp_path)
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(UnsafePath) as info:
        safe.read_bytes("big", limit=10)
    assert info.value.rule == "path.size"
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafePath) as fifo:
        safe.read_bytes("fifo")
    assert fifo.value.rule == "path.not-file"
    assert safe.read_bytes("missing/file") is None


def test_a_write_replaces_a_final_link_instead_of_following_it(tmp_path: Path) -> None:
    safe = SafeRoot(tmp_path / "root")
    (tmp_path / "root").mkdir()
    (tmp_path / "outside.txt").write_text("keep")
    os.symlink(tmp_path / "outside.txt", tmp_path / "root" / "f.txt")
    with pytest.raises(UnsafePath):
        safe.check_target("f.txt")
    safe.write_text("f.txt", "new")
    assert (tmp_path / "outside.txt").read_text() == "keep"
    assert not (tmp_path / "root" / "f.txt").is_symlink()


# -- journal policy ---------------------------------------------------------------------------------
def _journal(
    writes: list[list[Any]], *, user: str = "claude", assignees: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "doc": "SOP-001",
        "meta": {"id": "SOP-001", "owner": "claude", "pending_assignees": list(assignees)},
        "writes": writes,
        "events": [{"event": "X", "user": user, **({"assignees": list(assignees)} if assignees else {})}],
    }


@pytest.mark.parametrize(
    "path",
    [
        "QMS/SOP/SOP-001.md",
        "QMS/SOP/SOP-001-draft.md",
        "QMS/.archive/SOP/SOP-001-v1.0.md",
        ".claude/users/claude/workspace/SOP-001.md",
        ".claude/users/qa/inbox/task-SOP-001-review-v0-1.md",
        ".agentdock/idempotency/qms/" + "0" * 64 + ".json",
    ],
)
def test_the_journal_policy_admits_the_documents_own_paths(tmp_path: Path, path: str) -> None:
    check_paths(Layout(tmp_path), parse_doc_id("SOP-001"), _journal([[path, "x"]], assignees=("qa",)))


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        "QMS/SOP/SOP-002.md",
        "QMS/.archive/SOP/SOP-002-v1.0.md",
        "QMS/.meta/roster.json",
        ".claude/agents/qa.md",
        ".claude/users/bu/workspace/SOP-001.md",  # bu is not named by the operation
        ".claude/users/bu/inbox/task-SOP-001-review-v0-1.md",
        ".claude/users/qa/inbox/task-SOP-002-review-v0-1.md",
        ".claude/users/claude/container/.agentdock-token",
        "QMS/SOP/../../.git/config",
        "/etc/passwd",
        ".agentdock/tokens.json",
    ],
)
def test_the_journal_policy_refuses_every_other_path(tmp_path: Path, path: str) -> None:
    with pytest.raises(CorruptJournal):
        check_paths(Layout(tmp_path), parse_doc_id("SOP-001"), _journal([[path, "x"]]))


def test_removing_this_documents_task_from_any_inbox_is_allowed(tmp_path: Path) -> None:
    task = ".claude/users/bu/inbox/task-SOP-001-review-v0-1.md"
    check_paths(Layout(tmp_path), parse_doc_id("SOP-001"), _journal([[task, None]]))


def test_a_journal_seal_is_bound_to_the_projects_private_key(tmp_path: Path) -> None:
    seal = JournalSeal(tmp_path)
    text = seal.seal({"doc": "SOP-001", "writes": []})
    assert seal.open(text) == {"doc": "SOP-001", "writes": []}
    tampered = json.loads(text)
    tampered["writes"] = [[".git/config", "x"]]
    with pytest.raises(CorruptJournal):
        seal.open(json.dumps(tampered))
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(CorruptJournal):
        JournalSeal(other).open(text)  # no key there: nothing verifies
    assert oct((tmp_path / ".agentdock" / "qms" / "journal.key").stat().st_mode & 0o777) == "0o600"


# -- audit chain ------------------------------------------------------------------------------------
def _trail(n: int) -> tuple[str, Anchor]:
    lines, anchor = chain_events("SOP-001", None, [{"event": "E", "seq": i} for i in range(1, n + 1)])
    return "".join(line + "\n" for line in lines), anchor


def test_an_intact_trail_verifies_and_a_torn_last_line_is_not_part_of_it() -> None:
    text, anchor = _trail(3)
    assert verify_trail("SOP-001", text, anchor).ok
    assert verify_trail("SOP-001", text + '{"torn', anchor).ok
    assert not verify_trail("SOP-002", text, anchor).ok  # another document's trail


def test_a_trail_without_chain_or_anchor_is_legacy_and_gets_chained_on_append() -> None:
    legacy = '{"event": "CREATE", "seq": 1}\n'
    check = verify_trail("SOP-001", legacy, None)
    assert check.ok and check.legacy
    lines, anchor = chain_events("SOP-001", check.tail, [{"event": "X", "seq": 2}])
    assert verify_trail("SOP-001", legacy + lines[0] + "\n", anchor).ok
    assert not verify_trail("SOP-001", legacy.replace("CREATE", "FORGED") + lines[0] + "\n", anchor).ok


# -- roster and limits ------------------------------------------------------------------------------
def test_roster_cli_shows_sets_and_removes_users(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path)
    assert qms_cli(["init", "--root", root]) == 0
    assert qms_cli(["--project-root", root, "roster", "set", "ini", "initiator"]) == 0
    assert Roster(tmp_path).users()["ini"].can_initiate
    assert qms_cli(["--project-root", root, "roster", "set", "ini", "king"]) == 2
    assert qms_cli(["--project-root", root, "roster", "remove", "ini"]) == 0
    capsys.readouterr()
    assert qms_cli(["--project-root", root, "--json", "roster"]) == 0
    shown = json.loads(capsys.readouterr().out)["data"]
    assert shown["state"] == "ok" and shown["users"]["qa"] == "quality" and "ini" not in shown["users"]


def test_roster_import_migrates_agent_files_once_at_a_persons_request(tmp_path: Path) -> None:
    qms_cli(["init", "--root", str(tmp_path)])
    (tmp_path / "QMS" / ".meta" / "roster.json").unlink()
    (tmp_path / ".claude" / "agents" / "ini.md").write_text("---\nname: ini\ngroup: initiator\n---\n")
    assert qms_cli(["--project-root", str(tmp_path), "roster", "import"]) == 0
    assert (
        Qms(tmp_path).user("ini").can_initiate and Qms(tmp_path).user("claude").group.value == "administrator"
    )


def test_the_limits_file_overrides_defaults_and_refuses_nonsense() -> None:
    assert parse_limits('{"max_creates_per_window": 5}') == Limits(max_creates_per_window=5)
    for bad in ("[]", '{"max_title_chars": 0}', '{"unknown": 1}', '{"create_window_s": true}', "{"):
        with pytest.raises(StorageError) as info:
            parse_limits(bad)
        assert info.value.rule == "limits.file"
