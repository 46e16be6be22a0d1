"""Attack class: a link planted anywhere the QMS reads or writes redirects nothing.

Every QMS path is walked from the project root one component at a time with
``O_NOFOLLOW | O_DIRECTORY`` and the file opened ``O_NOFOLLOW`` and checked to be regular, and
every write target is checked before the commit point.  Each attack asserts the refusal (its
rule) and that nothing changed on disk — in the project and in the host folder the link points at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentdock import paths
from agentdock.qms.errors import QmsError, UnsafePath
from agentdock.qms.ids import parse_doc_id
from agentdock.qms.service import Qms


@pytest.mark.parametrize("planted", ["link", "dir"])
def test_a_link_at_the_next_documents_workspace_copy_refuses_cleanly_and_wedges_nothing(
    attack: Any, root: Path, qms: Qms, host: Path, planted: str
) -> None:
    first = attack.draft_sop("First")
    target = attack.workspace("claude", "SOP-002")
    if planted == "link":
        os.symlink(host / "secret.txt", target)
    else:
        target.mkdir()
    before = attack.snapshot()
    with pytest.raises(UnsafePath) as info:
        qms.create("claude", "SOP", "Second")
    assert info.value.rule in ("path.symlink", "path.not-file")
    assert attack.snapshot() == before  # no journal, no metadata, no id used, host file intact
    assert not attack.journal_path("SOP-002").exists()
    # Nothing is wedged: every other call, another agent's, the status of all, a restart.
    assert [r["id"] for r in qms.status("qa").data["documents"]] == [first]
    qms.route("claude", first, "review")
    qms.review("qa", first, "recommend")
    assert Qms(root).storage.recover_all() == []
    # Once the agent removes its own link, the next create gets the id that was never used.
    if planted == "link":
        target.unlink()
    else:
        target.rmdir()
    assert qms.create("claude", "SOP", "Second").data["id"] == "SOP-002"


def test_a_workspace_folder_swapped_for_a_link_is_never_written_through(
    attack: Any, root: Path, qms: Qms, host: Path
) -> None:
    doc = attack.effective_sop()
    workspace = paths.agent_workspace_dir(root, "claude")
    workspace.rmdir()
    os.symlink(host, workspace)
    before = attack.snapshot()
    with pytest.raises(UnsafePath) as info:
        qms.checkout("claude", doc)
    assert info.value.rule == "path.symlink"
    assert attack.snapshot() == before
    assert qms.status("claude", doc).data["checked_out"] is False


@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_link_moved_into_the_archive_does_not_make_read_return_a_host_file(
    attack: Any, root: Path, qms: Qms, host: Path, where: str
) -> None:
    doc = attack.effective_sop()  # archive holds SOP-001-v0.1.md
    archived = qms.layout.archive_file(parse_doc_id(doc), "0.1")
    if where == "file":
        archived.unlink()
        os.symlink(host / "secret.txt", archived)
    else:
        folder = archived.parent
        (host / archived.name).symlink_to(host / "secret.txt")
        for entry in folder.iterdir():
            entry.unlink()
        folder.rmdir()
        os.symlink(host, folder)
    before = attack.snapshot()
    with pytest.raises(UnsafePath) as info:
        qms.read("qa", doc, "0.1")
    assert info.value.rule == "path.symlink"
    assert "host secret" not in str(info.value)
    assert attack.snapshot() == before


def test_a_draft_swapped_for_a_link_is_neither_read_nor_copied_to_a_workspace(
    attack: Any, root: Path, qms: Qms, host: Path
) -> None:
    doc = attack.draft_sop()
    draft = qms.layout.draft_file(parse_doc_id(doc))
    draft.unlink()
    os.symlink(host / "secret.txt", draft)
    before = attack.snapshot()
    for call in (lambda: qms.read("qa", doc), lambda: qms.checkout("claude", doc)):
        with pytest.raises(QmsError) as info:
            call()
        assert "host secret" not in str(info.value)
    assert attack.snapshot() == before
    assert not attack.workspace("claude", doc).exists()


def test_a_link_at_an_assignees_task_file_refuses_the_route(
    attack: Any, root: Path, qms: Qms, host: Path
) -> None:
    doc = attack.draft_sop()
    task = paths.agent_inbox_dir(root, "qa") / f"task-{doc}-review-v0-1.md"
    os.symlink(host / "secret.txt", task)
    before = attack.snapshot()
    with pytest.raises(UnsafePath):
        qms.route("claude", doc, "review")
    assert attack.snapshot() == before
    assert qms.status("claude", doc).data["status"] == "DRAFT"


def test_a_qms_folder_swapped_for_a_link_is_refused_not_listed(
    attack: Any, root: Path, qms: Qms, host: Path
) -> None:
    doc = attack.draft_sop()
    meta = paths.qms_dir(root) / ".meta" / "SOP"
    meta.rename(host / "moved-meta")
    os.symlink(host / "moved-meta", meta)
    before = attack.snapshot()
    with pytest.raises(UnsafePath):
        qms.status("claude", doc)
    with pytest.raises(UnsafePath):
        qms.status("claude")
    assert attack.snapshot() == before


@pytest.mark.anyio
async def test_qms_read_over_mcp_refuses_an_archived_link(
    attack: Any, root: Path, host: Path, server_factory: Any, connect: Any
) -> None:
    doc = attack.effective_sop()
    archived = attack.qms.layout.archive_file(parse_doc_id(doc), "0.1")
    archived.unlink()
    os.symlink(host / "secret.txt", archived)
    with server_factory() as server, anyio.fail_after(60):
        async with connect(server.url, "qa") as client:
            result = await client.call_tool("qms_read", {"doc_id": doc, "version": "0.1"})
    text = "".join(getattr(b, "text", "") for b in result.content)
    assert result.is_error and "[path.symlink]" in text and "host secret" not in text
