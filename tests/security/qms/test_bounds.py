"""Attack classes: text that drives a terminal, oversize input, and a creation flood.

What an agent writes as a title, comment or revision summary reaches a person's terminal and
other agents' context: control characters (ESC, BEL, CSI, C1, bidi overrides) are refused, sizes
are capped, and one user can create only so many documents per window.  Each refusal names its
rule and changes nothing on disk.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentdock.qms.errors import InvalidDocument, LimitExceeded, QmsError
from agentdock.qms.limits import DEFAULT_LIMITS, Limits
from agentdock.qms.roster import Roster
from agentdock.qms.service import Qms

HOSTILE = {
    "ESC (colour, cursor)": "\x1b[31mred\x1b[0m",
    "OSC title set": "\x1b]0;pwned\x07",
    "BEL": "ding\x07",
    "one-byte CSI (C1)": "\x9b2J",
    "NEL (C1)": "a\x85b",
    "DEL": "a\x7fb",
    "bidi override": "safe\u202etxt.exe",
    "NUL": "a\x00b",
    "line separator": "a\u2028b",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_title_with_control_characters_is_refused(attack: Any, qms: Qms, name: str) -> None:
    before = attack.snapshot()
    with pytest.raises(InvalidDocument) as info:
        qms.create("claude", "SOP", f"Procedure {HOSTILE[name]}")
    assert info.value.rule == "document.title.control-character"
    assert attack.snapshot() == before


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_comment_with_control_characters_is_refused_but_newlines_are_fine(
    attack: Any, qms: Qms, name: str
) -> None:
    doc = attack.draft_sop()
    qms.route("claude", doc, "review")
    before = attack.snapshot()
    with pytest.raises(InvalidDocument) as info:
        qms.review("qa", doc, "request_updates", f"see {HOSTILE[name]}")
    assert info.value.rule == "review.comment.control-character"
    assert attack.snapshot() == before
    qms.review("qa", doc, "request_updates", "first point\nsecond point")
    assert qms.comments("claude", doc).data["comments"][0]["comment"] == "first point\nsecond point"


def test_a_document_whose_title_summary_or_body_carries_escapes_is_refused_at_checkin(
    attack: Any, qms: Qms
) -> None:
    doc: str = qms.create("claude", "SOP", "Plain").data["id"]
    workspace = attack.workspace("claude", doc)
    for text, rule in [
        ('---\ntitle: "x\\e[2J"\nrevision_summary: s\n---\nbody\n', "document.title.control-character"),
        (
            '---\ntitle: t\nrevision_summary: "s\\a"\n---\nbody\n',
            "document.revision-summary.control-character",
        ),
        ("---\ntitle: t\nrevision_summary: s\n---\nbody \x1b]0;owned\x07\n", "document.control-character"),
    ]:
        workspace.write_text(text)
        before = attack.snapshot()
        with pytest.raises(InvalidDocument) as info:
            qms.checkin("claude", doc)
        assert info.value.rule == rule
        assert attack.snapshot() == before
    workspace.write_text("---\ntitle: t\nrevision_summary: s\n---\ntabs\tand CRLF\r\nare fine\n")
    qms.checkin("claude", doc)


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (
            lambda q, d: q.create("claude", "SOP", "x" * (DEFAULT_LIMITS.max_title_chars + 1)),
            "document.title.size",
        ),
        (lambda q, d: q.reject("qa", d, "x" * (DEFAULT_LIMITS.max_comment_chars + 1)), "reject.comment.size"),
    ],
)
def test_oversize_titles_and_comments_are_refused(attack: Any, qms: Qms, make: Any, rule: str) -> None:
    doc = attack.effective_sop()
    before = attack.snapshot()
    with pytest.raises(QmsError) as info:
        make(qms, doc)
    assert info.value.rule == rule
    assert attack.snapshot() == before


def test_an_oversize_document_is_refused_at_checkin_without_reading_it_all(attack: Any, root: Path) -> None:
    qms = Qms(root, limits=Limits(max_document_bytes=4096))
    doc: str = qms.create("claude", "SOP", "Big").data["id"]
    attack.workspace("claude", doc).write_text("---\ntitle: t\nrevision_summary: s\n---\n" + "x" * 5000)
    before = attack.snapshot()
    with pytest.raises(InvalidDocument) as info:
        qms.checkin("claude", doc)
    assert info.value.rule == "document.size" and "4096" in info.value.message
    assert attack.snapshot() == before


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> str:
        return self.now.isoformat().replace("+00:00", "Z")


def test_a_creation_flood_is_limited_per_user_and_window(attack: Any, root: Path) -> None:
    (root / "QMS" / ".meta" / "limits.json").write_text(
        '{"max_creates_per_window": 3, "create_window_s": 60}'
    )
    Roster(root).set("ini", "initiator")
    clock = Clock()
    qms = Qms(root, clock=clock)
    assert [qms.create("claude", "SOP", f"n{i}").data["id"] for i in range(3)] == [
        "SOP-001",
        "SOP-002",
        "SOP-003",
    ]
    before = attack.snapshot()
    for kind in ("SOP", "CR"):  # the limit is per user, across types
        with pytest.raises(LimitExceeded) as info:
            qms.create("claude", kind, "one too many")
        assert info.value.rule == "limit.create-rate"
        assert "3 per 60 s" in info.value.message and "limits.json" in info.value.message
    assert attack.snapshot() == before
    assert qms.create("ini", "SOP", "someone else").data["id"] == "SOP-004"  # others are not starved
    clock.now += timedelta(seconds=61)
    assert qms.create("claude", "SOP", "next window").data["id"] == "SOP-005"


@pytest.mark.anyio
async def test_over_mcp_a_hostile_title_is_a_refusal_naming_the_rule(
    root: Path, running: Any, connect: Any
) -> None:
    with anyio.fail_after(60):
        async with connect(running.url, "claude") as client:
            result = await client.call_tool("qms_create", {"doc_type": "SOP", "title": "x\x1b[2Jy"})
    text = "".join(getattr(b, "text", "") for b in result.content)
    assert result.is_error and "[document.title.control-character]" in text and "\x1b" not in text
    assert not list((root / "QMS" / ".meta" / "SOP").glob("*.json"))
