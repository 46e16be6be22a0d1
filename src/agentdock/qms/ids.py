"""Document types, ids and where each document's files live.

An id is checked against these shapes *before* any path is built from it::

    SOP-001   CR-001   INV-001   CR-001-VAR-001   INV-002-VAR-003   CR-1000

so nothing like ``..``, ``/``, an absolute path or a NUL can reach the file system.  Numbers
have at least three digits (``001``-``999``, then ``1000``…, up to :data:`MAX_NUMBER`) and one
spelling each: a number above 999 has no leading zero, so ``CR-0001`` is refused, never read as
``CR-001``.  Ids sort numerically (``CR-999`` before ``CR-1000``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agentdock import paths
from agentdock.qms.errors import BadRequest
from agentdock.qms.safefs import SafeRoot

__all__ = ["DocId", "DocType", "Layout", "parse_doc_id", "parse_doc_type"]

_NUM = r"(?:[0-9]{3}|[1-9][0-9]{3,5})"  # ASCII digits only: \d would admit "CR-١٢٣"
_TOP_RE = re.compile(rf"(SOP|CR|INV)-({_NUM})")
_VAR_RE = re.compile(rf"((?:CR|INV)-{_NUM})-VAR-({_NUM})")
MAX_NUMBER = 999_999


class DocType(StrEnum):
    SOP = "SOP"
    CR = "CR"
    INV = "INV"
    VAR = "VAR"

    @property
    def executable(self) -> bool:
        return self is not DocType.SOP


def parse_doc_type(value: str) -> DocType:
    try:
        return DocType(str(value).upper())
    except ValueError:
        raise BadRequest(
            f"unknown document type {value!r}: expected one of SOP, CR, INV, VAR", rule="id.type"
        ) from None


@functools.total_ordering
@dataclass(frozen=True, eq=True)
class DocId:
    """A validated document id; ordered by type, then number (a VAR after its parent's number)."""

    text: str

    @property
    def sort_key(self) -> tuple[str, int, int]:
        parent = self.parent
        if parent is not None:
            return (parent.type.value, parent.number, self.number)
        return (self.type.value, self.number, 0)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DocId):
            return NotImplemented
        return self.sort_key < other.sort_key

    @property
    def type(self) -> DocType:
        return DocType.VAR if "-VAR-" in self.text else DocType(self.text.split("-", 1)[0])

    @property
    def parent(self) -> DocId | None:
        match = _VAR_RE.fullmatch(self.text)
        return DocId(match.group(1)) if match else None

    @property
    def number(self) -> int:
        return int(self.text.rsplit("-", 1)[1])

    def __str__(self) -> str:
        return self.text


def parse_doc_id(value: object) -> DocId:
    """A :class:`DocId`, or BadRequest naming the expected shapes."""
    if isinstance(value, str):
        top = _TOP_RE.fullmatch(value)
        var = _VAR_RE.fullmatch(value)
        if top and top.group(2) != "000":
            return DocId(value)
        if var and var.group(2) != "000" and not var.group(1).endswith("-000"):
            return DocId(value)
    shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else repr(value[:40]) + "..."
    raise BadRequest(
        f"malformed document id {shown}: expected SOP-NNN, CR-NNN, INV-NNN or CR-NNN-VAR-NNN "
        "(at least three digits: 001-999, then 1000...)",
        rule="id.format",
    )


def number_text(number: int) -> str:
    if not 1 <= number <= MAX_NUMBER:
        raise BadRequest(f"document numbers run out at {MAX_NUMBER}", rule="id.exhausted")
    return f"{number:03d}"


class Layout:
    """Every path the QMS uses inside one project root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.qms = paths.qms_dir(root)

    # -- controlled files -----------------------------------------------------------------------------
    def doc_folder(self, doc: DocId) -> Path:
        if doc.type is DocType.SOP:
            return self.qms / "SOP"
        parent = doc.parent
        if parent is not None:
            return self.doc_folder(parent)
        return self.qms / doc.type.value / doc.text

    def effective_file(self, doc: DocId) -> Path:
        return self.doc_folder(doc) / f"{doc.text}.md"

    def draft_file(self, doc: DocId) -> Path:
        return self.doc_folder(doc) / f"{doc.text}-draft.md"

    def archive_file(self, doc: DocId, version: str) -> Path:
        relative = self.doc_folder(doc).relative_to(self.qms)
        return self.qms / ".archive" / relative / f"{doc.text}-v{version}.md"

    def meta_file(self, doc: DocId) -> Path:
        return self.qms / ".meta" / doc.type.value / f"{doc.text}.json"

    def journal_file(self, doc: DocId) -> Path:
        return self.qms / ".meta" / doc.type.value / f".{doc.text}.journal"

    def audit_file(self, doc: DocId) -> Path:
        return self.qms / ".audit" / doc.type.value / f"{doc.text}.jsonl"

    # -- per-user folders -----------------------------------------------------------------------------
    def workspace_file(self, user: str, doc: DocId) -> Path:
        return paths.agent_workspace_dir(self.root, user) / f"{doc.text}.md"

    def inbox_dir(self, user: str) -> Path:
        return paths.agent_inbox_dir(self.root, user)

    def quarantine_dir(self) -> Path:
        """Where journals that must not be replayed are moved (see :mod:`agentdock.qms.journal`)."""
        return self.qms / ".meta" / "quarantine"

    def limits_file(self) -> Path:
        return self.qms / ".meta" / "limits.json"

    # -- private state (never in a container, out of git-mcp's reach) ---------------------------------
    def lock_file(self, name: str) -> Path:
        return paths.state_dir(self.root) / "locks" / "qms" / f"{name}.lock"

    def private_dir(self) -> Path:
        return paths.state_dir(self.root) / "qms"

    def audit_anchor(self, doc: DocId) -> Path:
        """The audit trail's tail anchor (last seq and hash), kept where agents cannot write."""
        return self.private_dir() / "anchors" / doc.type.value / f"{doc.text}.json"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def existing_numbers(layout: Layout, doc_type: DocType, parent: DocId | None = None) -> set[int]:
    """Numbers already used by documents of a type (or a parent's variances), cancelled ones included."""
    numbers: set[int] = set()
    folders = [layout.qms / ".meta" / doc_type.value, layout.qms / ".audit" / doc_type.value]
    safe = SafeRoot(layout.root)
    for folder in folders:
        for entry in safe.listdir(folder):
            name = entry.lstrip(".").split(".", 1)[0]
            try:
                doc = parse_doc_id(name)
            except BadRequest:
                continue
            if doc.type is doc_type and doc.parent == parent:
                numbers.add(doc.number)
    return numbers
