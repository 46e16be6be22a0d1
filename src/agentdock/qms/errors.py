"""The exceptions ``agentdock.qms`` raises.

Every *refusal* carries ``rule``: a short, stable name of the rule that refused
the request (``permission.create``, ``workflow.route-approval``, ``id.format``…),
which the CLI and the MCP server show next to the message.  A refusal never
changes anything on disk.

::

    QmsError                        base; ``rule`` and ``message``
    ├── Refused                     the request was understood and refused (CLI exit 1, MCP isError)
    │   ├── PermissionDenied        the user's group or role does not allow the action
    │   ├── WorkflowViolation       the action is not allowed in the document's current state
    │   ├── NotFound                no such document (or version, or workspace file)
    │   ├── InvalidDocument         a document, title or comment is malformed, oversized, has control chars
    │   ├── UnsafePath              a path the QMS would use is a symlink, a folder, or outside the root
    │   └── LimitExceeded           a user created too many documents in the configured window
    ├── BadRequest                  malformed input: document id, type, version, user name (CLI exit 2)
    └── StorageError                the project on disk is unreadable or inconsistent
        └── IntegrityError          QMS state fails its check (roster digest, audit chain, journal MAC)
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "IntegrityError",
    "InvalidDocument",
    "LimitExceeded",
    "NotFound",
    "PermissionDenied",
    "QmsError",
    "Refused",
    "StorageError",
    "UnsafePath",
    "WorkflowViolation",
]


class QmsError(Exception):
    """Base of every QMS error: a rule name and a message a person or agent can act on."""

    default_rule = "qms"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule or self.default_rule

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


class Refused(QmsError):
    default_rule = "refused"


class PermissionDenied(Refused):
    default_rule = "permission"


class WorkflowViolation(Refused):
    default_rule = "workflow"


class NotFound(Refused):
    default_rule = "not-found"


class InvalidDocument(Refused):
    default_rule = "document"


class UnsafePath(Refused):
    default_rule = "path"


class LimitExceeded(Refused):
    default_rule = "limit"


class BadRequest(QmsError):
    default_rule = "request"


class StorageError(QmsError):
    default_rule = "storage"


class IntegrityError(StorageError):
    default_rule = "integrity"
