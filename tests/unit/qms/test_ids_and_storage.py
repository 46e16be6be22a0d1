from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from agentdock import paths
from agentdock.qms.errors import BadRequest, NotFound
from agentdock.qms.ids import DocType, Layout, parse_doc_id
from agentdock.qms.project import find_root, init_project
from agentdock.qms.safefs import SafeRoot
from agentdock.qms.service import Qms


@pytest.mark.parametrize("good", ["SOP-001", "CR-010", "INV-999", "CR-001-VAR-001", "INV-002-VAR-120"])
def test_well_formed_ids_parse(good: str) -> None:
    assert parse_doc_id(good).text == good


@pytest.mark.parametrize(
    "bad",
    [
        "../SOP-001",
        "SOP-001/../../etc",
        "/etc/passwd",
        "SOP-1",
        "SOP-0001",
        "sop-001",
        "SOP-001\n",
        "SOP-001\x00",
        "SOP-000",
        "SOP-001-VAR-001",
        "CR-001-VAR-000",
        "CR-000-VAR-001",
        "XYZ-001",
        "",
        None,
        7,
    ],
)
def test_malformed_ids_are_refused_before_any_path_is_built(bad: object) -> None:
    with pytest.raises(BadRequest) as info:
        parse_doc_id(bad)
    assert info.value.rule == "id.format"


def test_paths_follow_the_specified_layout(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    q = tmp_path / "QMS"
    assert layout.effective_file(parse_doc_id("SOP-001")) == q / "SOP" / "SOP-001.md"
    assert layout.draft_file(parse_doc_id("CR-001")) == q / "CR" / "CR-001" / "CR-001-draft.md"
    assert layout.effective_file(parse_doc_id("INV-003")) == q / "INV" / "INV-003" / "INV-003.md"
    assert layout.effective_file(parse_doc_id("CR-001-VAR-002")) == q / "CR" / "CR-001" / "CR-001-VAR-002.md"
    assert layout.meta_file(parse_doc_id("CR-001-VAR-002")) == q / ".meta" / "VAR" / "CR-001-VAR-002.json"
    assert layout.audit_file(parse_doc_id("SOP-001")) == q / ".audit" / "SOP" / "SOP-001.jsonl"
    assert (
        layout.archive_file(parse_doc_id("CR-001"), "1.0")
        == q / ".archive" / "CR" / "CR-001" / "CR-001-v1.0.md"
    )
    assert DocType.VAR.executable and not DocType.SOP.executable


def test_init_creates_qms_the_seven_agents_and_their_folders(tmp_path: Path) -> None:
    init_project(tmp_path)
    assert (tmp_path / "QMS" / "SOP").is_dir()
    for agent in paths.DEFAULT_AGENTS:
        text = (paths.agents_dir(tmp_path) / f"{agent}.md").read_text()
        assert text.startswith(f"---\nname: {agent}\ngroup: ")
        assert paths.agent_workspace_dir(tmp_path, agent).is_dir()
        assert paths.agent_inbox_dir(tmp_path, agent).is_dir()
    groups = {u.name: u.group.value for u in Qms(tmp_path).users().values()}
    assert groups["claude"] == "administrator" and groups["qa"] == "quality" and groups["bu"] == "reviewer"
    assert find_root(tmp_path / "QMS" / "SOP") == tmp_path.resolve()


def test_ids_are_allocated_in_sequence_per_type_and_per_parent(d) -> None:  # type: ignore[no-untyped-def]
    assert [d.create("SOP"), d.create("SOP"), d.create("CR"), d.create("INV")] == [
        "SOP-001",
        "SOP-002",
        "CR-001",
        "INV-001",
    ]


def test_concurrent_creates_never_share_an_id(qms: Qms) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            ids.append(Qms(qms.root).create("claude", "SOP", "parallel").data["id"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(ids) == [f"SOP-{n:03d}" for n in range(1, 13)]


def test_a_cancelled_id_is_never_reused(d) -> None:  # type: ignore[no-untyped-def]
    first = d.create("SOP")
    d.qms.cancel("claude", first, confirm=True)
    assert d.create("SOP") == "SOP-002"


def test_metadata_holds_the_specified_fields(d, root: Path) -> None:  # type: ignore[no-untyped-def]
    doc = d.create("CR")
    meta = json.loads((root / "QMS" / ".meta" / "CR" / f"{doc}.json").read_text())
    for key in (
        "id",
        "type",
        "version",
        "status",
        "executable",
        "execution_phase",
        "owner",
        "checked_out",
        "effective_version",
        "pending_assignees",
        "review_outcomes",
        "retiring",
    ):
        assert key in meta
    assert meta["execution_phase"] == "pre_release" and meta["executable"] is True


def test_unknown_documents_are_not_found(qms: Qms) -> None:
    with pytest.raises(NotFound):
        qms.status("claude", "SOP-042")


def test_an_interrupted_operation_is_finished_by_the_next_one_that_locks_the_document(  # type: ignore[no-untyped-def]
    d, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = d.create("SOP")
    storage = d.qms.storage
    meta = storage.load_meta(parse_doc_id(doc))

    class Killed(BaseException):
        """Stands in for SIGKILL: the process stops right after the commit point."""

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    # A crash right after the commit point: the sealed journal is on disk, the audit append never ran.
    monkeypatch.setattr(SafeRoot, "append_line", killed)
    with pytest.raises(Killed):
        d.qms.route("claude", doc, "review")
    monkeypatch.undo()
    assert storage.pending_journal(parse_doc_id(doc))
    # A torn half-line at the end of the audit file, as a killed append could leave.
    with storage.layout.audit_file(parse_doc_id(doc)).open("a") as handle:
        handle.write('{"ts": "t", "ev')
    events = d.qms.history("claude", doc).data["events"]
    assert [e["event"] for e in events][-2:] == ["ROUTE_REVIEW", "STATUS_CHANGE"]
    assert len(events) == meta.audit_seq + 2
    assert not storage.layout.journal_file(parse_doc_id(doc)).exists()
    assert d.qms.status("claude", doc).data["audit_seq"] == len(events)
    assert d.qms.history("claude", doc).data["audit"] == "intact"
