"""Versions, states and a document's metadata record (``QMS/.meta/<TYPE>/<ID>.json``)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from agentdock.qms.errors import BadRequest, StorageError
from agentdock.qms.ids import DocId, DocType, parse_doc_id

__all__ = ["FINAL_STATES", "Meta", "Outcome", "Result", "Status", "Version"]

_VERSION_RE = re.compile(r"([0-9]{1,4})\.([0-9]{1,4})")


@dataclass(frozen=True, order=True)
class Version:
    """``N.X``: N counts approvals, X revisions within a cycle."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: object) -> Version:
        match = _VERSION_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise BadRequest(
                f"malformed version {text!r}: expected N.X such as 1.0 or 0.2", rule="version.format"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def next_minor(self) -> Version:
        return Version(self.major, self.minor + 1)

    def next_major(self) -> Version:
        return Version(self.major + 1, 0)

    @property
    def dashed(self) -> str:
        """``N-X``, as used in inbox task file names."""
        return f"{self.major}-{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


class Status(StrEnum):
    DRAFT = "DRAFT"
    # non-executable
    IN_REVIEW = "IN_REVIEW"
    REVIEWED = "REVIEWED"
    IN_APPROVAL = "IN_APPROVAL"
    EFFECTIVE = "EFFECTIVE"
    # executable
    IN_PRE_REVIEW = "IN_PRE_REVIEW"
    PRE_REVIEWED = "PRE_REVIEWED"
    IN_PRE_APPROVAL = "IN_PRE_APPROVAL"
    PRE_APPROVED = "PRE_APPROVED"
    IN_EXECUTION = "IN_EXECUTION"
    IN_POST_REVIEW = "IN_POST_REVIEW"
    POST_REVIEWED = "POST_REVIEWED"
    IN_POST_APPROVAL = "IN_POST_APPROVAL"
    POST_APPROVED = "POST_APPROVED"
    CLOSED = "CLOSED"
    # both
    RETIRED = "RETIRED"


FINAL_STATES = frozenset({Status.CLOSED, Status.RETIRED})


class Outcome(StrEnum):
    RECOMMEND = "recommend"
    REQUEST_UPDATES = "request_updates"


@dataclass(frozen=True)
class Meta:
    """Everything about a document except its text; serialised as the spec's meta JSON."""

    id: str
    type: str
    version: str
    status: Status
    executable: bool
    execution_phase: str | None
    owner: str
    checked_out: bool
    effective_version: str | None = None
    pending_assignees: tuple[str, ...] = ()
    review_outcomes: dict[str, str] = field(default_factory=dict)
    retiring: bool = False
    #: How many audit events belong to this document (so a reader can check meta and audit agree).
    audit_seq: int = 0

    @property
    def doc(self) -> DocId:
        return parse_doc_id(self.id)

    @property
    def doc_type(self) -> DocType:
        return DocType(self.type)

    @property
    def ver(self) -> Version:
        return Version.parse(self.version)

    def evolve(self, **changes: Any) -> Meta:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["pending_assignees"] = list(self.pending_assignees)
        return data

    @classmethod
    def from_json(cls, data: object) -> Meta:
        if not isinstance(data, dict):
            raise StorageError("metadata is not a JSON object", rule="storage.meta")
        try:
            return cls(
                id=str(data["id"]),
                type=str(data["type"]),
                version=str(Version.parse(data["version"])),
                status=Status(data["status"]),
                executable=bool(data["executable"]),
                execution_phase=data.get("execution_phase"),
                owner=str(data["owner"]),
                checked_out=bool(data["checked_out"]),
                effective_version=data.get("effective_version"),
                pending_assignees=tuple(data.get("pending_assignees") or ()),
                review_outcomes=dict(data.get("review_outcomes") or {}),
                retiring=bool(data.get("retiring", False)),
                audit_seq=int(data.get("audit_seq", 0)),
            )
        except (KeyError, ValueError, TypeError, BadRequest) as exc:
            raise StorageError(f"malformed metadata: {exc}", rule="storage.meta") from exc


@dataclass(frozen=True)
class Result:
    """What a QMS command returns: a one-line message for people and its data for programs."""

    message: str
    data: dict[str, Any] = field(default_factory=dict)
