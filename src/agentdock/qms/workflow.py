"""The two workflows as tables: which state each action leads from and to.

Pure data and small functions; :mod:`agentdock.qms.service` applies them.
"""

from __future__ import annotations

from agentdock.qms.ids import DocType
from agentdock.qms.model import Status

__all__ = [
    "APPROVAL_DONE",
    "APPROVAL_STATES",
    "CHECKIN_FROM_REVIEWED",
    "CHECKOUT_STATES",
    "REJECT_TO",
    "REVIEW_DONE",
    "REVIEW_STATES",
    "ROUTE_APPROVAL",
    "ROUTE_REVIEW",
    "WITHDRAW_TO",
    "retire_states",
    "workflow_type",
]

S = Status

#: route --review: from -> to
ROUTE_REVIEW: dict[tuple[bool, Status], Status] = {
    (False, S.DRAFT): S.IN_REVIEW,
    (True, S.DRAFT): S.IN_PRE_REVIEW,
    (True, S.IN_EXECUTION): S.IN_POST_REVIEW,
}
#: route --approval: from -> to
ROUTE_APPROVAL: dict[tuple[bool, Status], Status] = {
    (False, S.REVIEWED): S.IN_APPROVAL,
    (True, S.PRE_REVIEWED): S.IN_PRE_APPROVAL,
    (True, S.POST_REVIEWED): S.IN_POST_APPROVAL,
}
#: route --approval --retire (approved documents only): from -> to
_RETIRE: dict[tuple[bool, Status], Status] = {
    (False, S.EFFECTIVE): S.IN_APPROVAL,
    (True, S.PRE_APPROVED): S.IN_PRE_APPROVAL,
}
#: the last pending reviewer reviewed
REVIEW_DONE: dict[Status, Status] = {
    S.IN_REVIEW: S.REVIEWED,
    S.IN_PRE_REVIEW: S.PRE_REVIEWED,
    S.IN_POST_REVIEW: S.POST_REVIEWED,
}
#: the last pending approver approved
APPROVAL_DONE: dict[Status, Status] = {
    S.IN_APPROVAL: S.EFFECTIVE,
    S.IN_PRE_APPROVAL: S.PRE_APPROVED,
    S.IN_POST_APPROVAL: S.POST_APPROVED,
}
#: a rejection returns IN_*APPROVAL to the matching *REVIEWED state
REJECT_TO: dict[Status, Status] = {
    S.IN_APPROVAL: S.REVIEWED,
    S.IN_PRE_APPROVAL: S.PRE_REVIEWED,
    S.IN_POST_APPROVAL: S.POST_REVIEWED,
}
#: withdraw pulls a document out of review (back to editing) or approval (back to reviewed)
WITHDRAW_TO: dict[Status, Status] = {
    S.IN_REVIEW: S.DRAFT,
    S.IN_PRE_REVIEW: S.DRAFT,
    S.IN_POST_REVIEW: S.IN_EXECUTION,
    **REJECT_TO,
}
#: checking in a *REVIEWED document returns it to editing and clears the review outcomes
CHECKIN_FROM_REVIEWED: dict[Status, Status] = {
    S.REVIEWED: S.DRAFT,
    S.PRE_REVIEWED: S.DRAFT,
    S.POST_REVIEWED: S.IN_EXECUTION,
}
CHECKOUT_STATES = frozenset({S.DRAFT, S.EFFECTIVE, S.IN_EXECUTION, *CHECKIN_FROM_REVIEWED})
REVIEW_STATES = frozenset(REVIEW_DONE)
APPROVAL_STATES = frozenset(APPROVAL_DONE)


def retire_states(doc_type: DocType) -> dict[Status, Status]:
    return {status: to for (executable, status), to in _RETIRE.items() if executable == doc_type.executable}


def restored_after_retire(doc_type: DocType) -> Status:
    """Where a rejected or withdrawn retirement returns to."""
    return S.PRE_APPROVED if doc_type.executable else S.EFFECTIVE


def workflow_type(status: Status) -> str:
    """``IN_PRE_REVIEW`` -> ``PRE_REVIEW`` (the task's ``workflow_type``)."""
    return status.value.removeprefix("IN_")
