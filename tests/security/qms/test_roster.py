"""Attack class: rewriting the roster (who is in which group) through files an agent can change.

The attacker is ``qa`` (quality) trying to become an administrator, or a new user trying to
exist.  Permissions come only from ``QMS/.meta/roster.json`` pinned by its digest in private
state; ``.claude/agents/*.md`` grant nothing, and a roster changed behind ``qms roster``'s back
is refused (fail closed) until a person accepts it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentdock import paths
from agentdock.qms.cli import main as qms_cli
from agentdock.qms.errors import IntegrityError, PermissionDenied
from agentdock.qms.roster import Roster
from agentdock.qms.service import Qms


def test_rewriting_agent_definition_files_grants_nothing(attack: Any, root: Path, qms: Qms) -> None:
    agents = paths.agents_dir(root)
    (agents / "qa.md").write_text("---\nname: qa\ngroup: administrator\n---\nI administer now.\n")
    (agents / "mallory.md").write_text("---\nname: mallory\ngroup: administrator\n---\n")
    before = attack.snapshot()
    with pytest.raises(PermissionDenied) as info:
        qms.create("qa", "SOP", "Mine now")
    assert info.value.rule == "permission.create"
    with pytest.raises(PermissionDenied) as unknown:
        qms.create("mallory", "SOP", "Mine now")
    assert unknown.value.rule == "user.unknown"
    assert attack.snapshot() == before
    assert qms.user("qa").group.value == "quality"


def test_a_roster_rewritten_behind_the_qms_is_refused_for_everyone_until_a_person_accepts_it(
    attack: Any, root: Path, qms: Qms
) -> None:
    """A write that got past the git gateway (or a pull) makes qa an administrator: refused, fail closed."""
    doc = attack.draft_sop()
    roster_file = paths.qms_dir(root) / ".meta" / "roster.json"
    data = json.loads(roster_file.read_text())
    data["users"]["qa"] = "administrator"
    roster_file.write_text(json.dumps(data))
    before = attack.snapshot()
    for call in (
        lambda: qms.create("qa", "SOP", "Mine now"),
        lambda: qms.route("claude", doc, "review"),
        lambda: qms.status("qa", doc),
    ):
        with pytest.raises(IntegrityError) as info:
            call()
        assert info.value.rule == "roster.changed"
    assert attack.snapshot() == before
    # Even a person's `roster set` does not build on an unconfirmed file...
    assert qms_cli(["--project-root", str(root), "roster", "set", "bu", "reviewer"]) == 1
    assert attack.snapshot() == before
    # ...they review it, accept what they saw, and put qa back.
    assert qms_cli(["--project-root", str(root), "roster", "accept"]) == 0
    assert qms_cli(["--project-root", str(root), "roster", "set", "qa", "quality"]) == 0
    assert qms.user("qa").group.value == "quality"
    qms.route("claude", doc, "review")


def test_a_deleted_or_replaced_pin_refuses_rather_than_trusting_the_file(
    attack: Any, root: Path, qms: Qms
) -> None:
    roster = Roster(root)
    roster.pin.unlink()
    with pytest.raises(IntegrityError) as info:
        qms.create("claude", "SOP", "x")
    assert info.value.rule == "roster.unconfirmed"
    assert qms_cli(["--project-root", str(root), "roster", "accept"]) == 0
    assert qms.create("claude", "SOP", "x").data["id"] == "SOP-001"


def test_a_missing_roster_refuses_everything(attack: Any, root: Path, qms: Qms) -> None:
    (paths.qms_dir(root) / ".meta" / "roster.json").unlink()
    before = attack.snapshot()
    with pytest.raises(IntegrityError) as info:
        qms.create("claude", "SOP", "x")
    assert info.value.rule == "roster.missing"
    assert attack.snapshot() == before


@pytest.mark.anyio
async def test_no_mcp_tool_can_change_the_roster(root: Path, running: Any, connect: Any) -> None:
    roster_before = (paths.qms_dir(root) / ".meta" / "roster.json").read_bytes()
    with anyio.fail_after(60):
        async with connect(running.url, "qa") as client:
            tools = [tool.name for tool in (await client.list_tools()).tools]
            for tool in tools:
                assert "roster" not in tool and "user" not in tool and "group" not in tool
            create = await client.call_tool("qms_create", {"doc_type": "SOP", "title": "qa tries"})
    assert create.is_error and "permission.create" in "".join(getattr(b, "text", "") for b in create.content)
    assert (paths.qms_dir(root) / ".meta" / "roster.json").read_bytes() == roster_before
