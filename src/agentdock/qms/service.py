"""The QMS operations: one method per command, each a refusal or an all-or-nothing change.

``Qms(root)`` is what the CLI and the MCP server call.  Every method takes the
acting user's name first and returns a :class:`Result` (a message for people
and agents, plus structured data); a refusal raises a
:class:`~agentdock.qms.errors.Refused` naming its rule and leaves the disk as it was.

``with qms.committing_with(extra): qms.<mutation>(...)`` adds one file, computed
from the operation's :class:`Result`, to the operation's own journal commit, so it
is written if and only if the operation is applied (even across a SIGKILL): the
MCP server's ``Idempotency-Key`` record rides this way (see ``agentdock.qms.keyed``).

The read-only commands live in :mod:`agentdock.qms.queries` (``Qms`` inherits
them) and the change/commit plumbing in :mod:`agentdock.qms.plan`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from agentdock.qms import workflow as wf
from agentdock.qms.agents import Group, User, parse_user_name
from agentdock.qms.documents import Document, parse_document, read_user_file, validate_title
from agentdock.qms.errors import BadRequest, LimitExceeded, PermissionDenied, QmsError, WorkflowViolation
from agentdock.qms.ids import DocId, DocType, parse_doc_id, parse_doc_type
from agentdock.qms.limits import Limits, check_comment
from agentdock.qms.model import Meta, Outcome, Result, Status, Version
from agentdock.qms.plan import CommitExtra, Plan, commit_extra
from agentdock.qms.queries import QmsQueries
from agentdock.qms.storage import utc_now

__all__ = ["CommitExtra", "Qms", "Result"]


class Qms:
    """The document-control system of one project root: the mutations here, the reads in
    :class:`~agentdock.qms.queries.QmsQueries` (``self.queries``), which each command delegates to."""

    def __init__(
        self, root: Path, *, clock: Callable[[], str] = utc_now, limits: Limits | None = None
    ) -> None:
        self.queries = QmsQueries(root, clock=clock, limits=limits)
        self.root = self.queries.root
        self.storage = self.queries.storage
        self.layout = self.queries.layout
        self.safe = self.queries.safe
        self.limits = self.queries.limits
        self.clock = clock

    # -- reads (QmsQueries) ---------------------------------------------------------------------------
    def users(self) -> dict[str, User]:
        return self.queries.users()

    def user(self, name: object) -> User:
        return self.queries.user(name)

    def status(self, actor: str, doc_id: str | None = None) -> Result:
        return self.queries.status(actor, doc_id)

    def read(self, actor: str, doc_id: str, version: str | None = None) -> Result:
        return self.queries.read(actor, doc_id, version)

    def history(self, actor: str, doc_id: str) -> Result:
        return self.queries.history(actor, doc_id)

    def comments(self, actor: str, doc_id: str) -> Result:
        return self.queries.comments(actor, doc_id)

    def inbox(self, actor: str) -> Result:
        return self.queries.inbox(actor)

    def workspace(self, actor: str) -> Result:
        return self.queries.workspace(actor)

    # -- mutations ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def committing_with(self, extra: CommitExtra) -> Iterator[None]:
        """Write ``extra(result)`` in the journal commit of the one mutation run inside the block."""
        with commit_extra(extra):
            yield

    def _check_create_rate(self, user: User) -> None:
        """LimitExceeded once ``user`` created ``max_creates_per_window`` documents in the window
        (counted from the audit trails' CREATE events, cancelled documents included)."""
        limit, window = self.limits.max_creates_per_window, self.limits.create_window_s
        now = datetime.fromisoformat(self.clock())
        since = now - timedelta(seconds=window)
        recent = 0
        for stamp in self.storage.creations(user.name):
            with contextlib.suppress(ValueError):
                if datetime.fromisoformat(stamp) > since:
                    recent += 1
        if recent >= limit:
            raise LimitExceeded(
                f"{user.name} created {recent} documents in the last {window} s; the limit is {limit} per "
                f"{window} s (max_creates_per_window / create_window_s in QMS/.meta/limits.json)",
                rule="limit.create-rate",
            )

    def _quality(self) -> list[str]:
        quality = [u.name for u in self.users().values() if u.group is Group.QUALITY]
        if not quality:
            raise WorkflowViolation("no user in the quality group to assign", rule="workflow.no-quality")
        return quality

    def _mutate(self, actor: str, doc_id: object, fn: Callable[[Plan], str]) -> Result:
        doc = parse_doc_id(doc_id)
        user = self.user(actor)
        with self.storage.document(doc):
            plan = Plan(self.queries, self.storage.load_meta(doc), user)
            message = fn(plan)
            return plan.commit(message)

    @staticmethod
    def _owner(plan: Plan, action: str) -> None:
        if plan.user.name != plan.old.owner:
            raise PermissionDenied(
                f"only the document's owner ({plan.old.owner}) may {action} {plan.old.id}",
                rule=f"permission.{action}",
            )

    @staticmethod
    def _not_checked_out(plan: Plan, action: str) -> None:
        if plan.old.checked_out:
            raise WorkflowViolation(
                f"{plan.old.id} is checked out by {plan.old.owner}; check it in before you {action} it",
                rule=f"workflow.{action}.checked-out",
            )

    @staticmethod
    def _state(plan: Plan, action: str, allowed: Collection[Status]) -> None:
        if plan.old.status not in allowed:
            names = ", ".join(sorted(str(s) for s in allowed)) or "none"
            raise WorkflowViolation(
                f"cannot {action} {plan.old.id} while it is {plan.old.status} (allowed from: {names})",
                rule=f"workflow.{action}",
            )

    # -- create / checkout / checkin / cancel ---------------------------------------------------------
    def create(self, actor: str, doc_type: str, title: str, parent: str | None = None) -> Result:
        user = self.user(actor)
        kind = parse_doc_type(doc_type)
        title = validate_title(title, self.limits)
        if not user.can_initiate:
            raise PermissionDenied(
                f"{user.name} ({user.group}) may not create documents: create is for administrator or initiator",
                rule="permission.create",
            )
        parent_id: DocId | None = None
        if kind is DocType.VAR:
            if parent is None:
                raise BadRequest("a VAR needs --parent CR-NNN or INV-NNN", rule="create.parent")
            parent_id = parse_doc_id(parent)
            if parent_id.type not in (DocType.CR, DocType.INV):
                raise BadRequest(f"a VAR's parent must be a CR or INV, not {parent_id}", rule="create.parent")
            with self.storage.document(parent_id):
                parent_meta = self.storage.load_meta(parent_id)
            if parent_meta.status is not Status.IN_EXECUTION:
                raise WorkflowViolation(
                    f"a variance is raised against a document in execution; {parent_id} is {parent_meta.status}",
                    rule="workflow.create.parent-state",
                )
        elif parent is not None:
            raise BadRequest("only a VAR takes a parent", rule="create.parent")
        with self.storage.user_lock(f"create-{user.name}"), self.storage.allocation(kind, parent_id):
            self._check_create_rate(user)
            doc = self.storage.next_id(kind, parent_id)
            with self.storage.document(doc):
                meta = Meta(
                    id=doc.text,
                    type=kind.value,
                    version="0.1",
                    status=Status.DRAFT,
                    executable=kind.executable,
                    execution_phase="pre_release" if kind.executable else None,
                    owner=user.name,
                    checked_out=True,
                )
                plan = Plan(self.queries, meta, user)
                text = Document.template(title, doc.text).render()
                plan.write(self.layout.draft_file(doc), text)
                plan.write(self.layout.workspace_file(user.name, doc), text)
                plan.event("CREATE", title=title)
                plan.event("CHECKOUT")
                workspace = self.layout.relative(self.layout.workspace_file(user.name, doc))
                plan.data["workspace_file"] = workspace
                return plan.commit(
                    f"Created {doc} v0.1 ({title}), checked out to {user.name} at {workspace}. "
                    f"Edit it there, then check it in."
                )

    def checkout(self, actor: str, doc_id: str) -> Result:
        def run(plan: Plan) -> str:
            if not plan.user.can_initiate:
                raise PermissionDenied(
                    f"{plan.user.name} ({plan.user.group}) may not check out: checkout is for administrator "
                    "or initiator",
                    rule="permission.checkout",
                )
            if plan.old.checked_out:
                raise WorkflowViolation(
                    f"{plan.old.id} is already checked out by {plan.old.owner}",
                    rule="workflow.checkout.checked-out",
                )
            self._state(plan, "checkout", wf.CHECKOUT_STATES)
            source = self.queries.current_file(plan.old)
            version = plan.old.ver.next_minor()
            plan.set(version=str(version), owner=plan.user.name, checked_out=True)
            target = self.layout.workspace_file(plan.user.name, plan.new.doc)
            plan.write(target, self.queries.read_document(plan.old.doc, source))
            plan.event("CHECKOUT")
            if plan.old.status is Status.EFFECTIVE:
                plan.status(Status.DRAFT)
            plan.data["workspace_file"] = self.layout.relative(target)
            return (
                f"Checked out {plan.old.id} as v{version} to {self.layout.relative(target)}. "
                "Edit it there, then check it in."
            )

        return self._mutate(actor, doc_id, run)

    def checkin(self, actor: str, doc_id: str) -> Result:
        def run(plan: Plan) -> str:
            self._owner(plan, "checkin")
            if not plan.old.checked_out:
                raise WorkflowViolation(
                    f"{plan.old.id} is not checked out", rule="workflow.checkin.not-checked-out"
                )
            doc = plan.old.doc
            workspace = self.layout.workspace_file(plan.user.name, doc)
            source = f"workspace file {doc}.md"
            text = read_user_file(self.safe, workspace, source=source, limits=self.limits)
            document = parse_document(text, source=source, limits=self.limits)
            version = plan.old.ver
            draft = self.layout.draft_file(doc)
            if version.minor >= 2:
                plan.archive(str(Version(version.major, version.minor - 1)), draft)
            elif plan.old.execution_phase == "post_release":
                plan.archive(str(Version(version.major, 0)), self.layout.effective_file(doc))
            plan.write(draft, text)
            plan.write(workspace, None)
            plan.set(checked_out=False)
            plan.event("CHECKIN", title=document.title, revision_summary=document.revision_summary)
            if plan.old.status in wf.CHECKIN_FROM_REVIEWED:
                plan.set(review_outcomes={})
                plan.status(wf.CHECKIN_FROM_REVIEWED[plan.old.status])
            return f"Checked in {doc} v{version} ({plan.new.status})."

        return self._mutate(actor, doc_id, run)

    def cancel(self, actor: str, doc_id: str, *, confirm: bool = False) -> Result:
        folder: list[Path] = []

        def run(plan: Plan) -> str:
            if plan.user.name != plan.old.owner and plan.user.group is not Group.ADMINISTRATOR:
                raise PermissionDenied(
                    f"only the owner ({plan.old.owner}) or an administrator may cancel {plan.old.id}",
                    rule="permission.cancel",
                )
            if plan.old.ver.major >= 1:
                raise WorkflowViolation(
                    f"{plan.old.id} v{plan.old.version} has been approved; only documents below 1.0 can be cancelled",
                    rule="workflow.cancel.approved",
                )
            self._not_checked_out(plan, "cancel")
            if not confirm:
                raise WorkflowViolation(
                    f"cancelling deletes {plan.old.id}'s files (its history stays); repeat with confirm",
                    rule="workflow.cancel.confirm",
                )
            doc = plan.old.doc
            for path in (self.layout.draft_file(doc), self.layout.effective_file(doc)):
                if self.safe.kind(path) is not None:
                    plan.write(path, None)
            plan.remove_all_tasks()
            plan.event("CANCEL")
            plan.remove = True
            plan.data["status"] = "CANCELLED"
            if doc.type is not DocType.SOP and doc.parent is None:
                folder.append(self.layout.doc_folder(doc))
            return f"Cancelled {doc}; its audit trail remains (qms history {doc})."

        result = self._mutate(actor, doc_id, run)
        for path in folder:
            with contextlib.suppress(OSError, QmsError):
                self.safe.rmdir(path)
        return result

    # -- routing and decisions ------------------------------------------------------------------------
    def route(self, actor: str, doc_id: str, workflow: str, *, retire: bool = False) -> Result:
        if workflow not in ("review", "approval"):
            raise BadRequest(
                f"unknown workflow {workflow!r}: expected review or approval", rule="route.workflow"
            )
        if retire and workflow != "approval":
            raise BadRequest("--retire goes with --approval", rule="route.retire")

        def run(plan: Plan) -> str:
            self._owner(plan, "route")
            self._not_checked_out(plan, "route")
            key = (plan.old.executable, plan.old.status)
            if workflow == "review":
                table = {s: to for (e, s), to in wf.ROUTE_REVIEW.items() if e == plan.old.executable}
                self._state(plan, "route-review", table)
                plan.set(review_outcomes={})
            elif retire:
                table = wf.retire_states(plan.old.doc_type)
                if plan.old.ver.major < 1:
                    raise WorkflowViolation(
                        f"only an approved document (>= 1.0) can be retired; {plan.old.id} is v{plan.old.version}",
                        rule="workflow.retire.unapproved",
                    )
                self._state(plan, "retire", table)
                plan.set(retiring=True)
            else:
                table = {s: to for (e, s), to in wf.ROUTE_APPROVAL.items() if e == plan.old.executable}
                self._state(plan, "route-approval", table)
                self._check_reviews(plan)
            to = table[key[1]]
            assignees = self._quality()
            plan.event(
                "ROUTE_REVIEW" if workflow == "review" else "ROUTE_APPROVAL",
                assignees=assignees,
                **({"retire": True} if retire else {}),
            )
            plan.status(to)
            plan.set(pending_assignees=tuple(assignees))
            plan.add_tasks(assignees)
            return (
                f"Routed {plan.old.id} v{plan.old.version} for {wf.workflow_type(to).lower().replace('_', '-')}"
                f"{' (retirement)' if retire else ''}; assigned {', '.join(assignees)}."
            )

        return self._mutate(actor, doc_id, run)

    def _check_reviews(self, plan: Plan) -> None:
        outcomes = plan.old.review_outcomes
        not_recommended = sorted(u for u, o in outcomes.items() if o != Outcome.RECOMMEND)
        if not outcomes or not_recommended:
            raise WorkflowViolation(
                f"approval needs every review to recommend; {', '.join(not_recommended) or 'nobody'} "
                "did not — check out, revise, check in and route for review again",
                rule="workflow.route-approval.reviews",
            )
        users = self.users()
        if not any(name in users and users[name].group is Group.QUALITY for name in outcomes):
            raise WorkflowViolation(
                "approval needs at least one review from the quality group",
                rule="workflow.route-approval.quality-review",
            )

    def assign(self, actor: str, doc_id: str, assignees: list[str]) -> Result:
        names = [parse_user_name(a) for a in assignees]
        if not names:
            raise BadRequest("assign needs at least one user", rule="assign.users")

        def run(plan: Plan) -> str:
            if plan.user.group is not Group.QUALITY:
                raise PermissionDenied(
                    f"{plan.user.name} ({plan.user.group}) may not assign: assigning is for the quality group",
                    rule="permission.assign",
                )
            self._state(plan, "assign", wf.REVIEW_STATES | wf.APPROVAL_STATES)
            users = self.users()
            approval = plan.old.status in wf.APPROVAL_STATES
            for name in names:
                if name not in users:
                    raise PermissionDenied(f"unknown user {name!r}", rule="user.unknown")
                if name in plan.old.pending_assignees or names.count(name) > 1:
                    raise WorkflowViolation(
                        f"{name} is already assigned to {plan.old.id}", rule="workflow.assign.duplicate"
                    )
                if name == plan.old.owner:
                    raise WorkflowViolation(
                        f"{name} owns {plan.old.id} and cannot review or approve it",
                        rule="workflow.assign.owner",
                    )
                if approval and users[name].group not in (Group.QUALITY, Group.REVIEWER):
                    raise PermissionDenied(
                        f"{name} ({users[name].group}) cannot approve: approvers are quality or reviewer",
                        rule="permission.approve.group",
                    )
            plan.set(pending_assignees=(*plan.old.pending_assignees, *names))
            plan.event("ASSIGN", assignees=names)
            plan.add_tasks(names)
            return f"Assigned {', '.join(names)} to {plan.old.id} ({wf.workflow_type(plan.old.status)})."

        return self._mutate(actor, doc_id, run)

    def review(self, actor: str, doc_id: str, outcome: str, comment: str = "") -> Result:
        comment = check_comment(comment, limits=self.limits, rule="review.comment")
        try:
            verdict = Outcome(outcome.replace("-", "_"))
        except ValueError:
            raise BadRequest(
                f"unknown outcome {outcome!r}: recommend or request_updates", rule="review.outcome"
            ) from None

        def run(plan: Plan) -> str:
            self._state(plan, "review", wf.REVIEW_STATES)
            if plan.user.name not in plan.old.pending_assignees:
                raise PermissionDenied(
                    f"{plan.user.name} is not an assigned reviewer of {plan.old.id} "
                    f"(pending: {', '.join(plan.old.pending_assignees) or 'none'})",
                    rule="permission.review",
                )
            if verdict is Outcome.REQUEST_UPDATES and not comment.strip():
                raise BadRequest(
                    "request_updates needs a comment saying what to change", rule="review.comment"
                )
            pending = tuple(u for u in plan.old.pending_assignees if u != plan.user.name)
            plan.set(
                pending_assignees=pending,
                review_outcomes={**plan.old.review_outcomes, plan.user.name: verdict.value},
            )
            plan.event("REVIEW", outcome=verdict.value, comment=comment)
            plan.remove_task(plan.user.name)
            if not pending:
                plan.status(wf.REVIEW_DONE[plan.old.status])
            return (
                f"Recorded {plan.user.name}'s review of {plan.old.id}: {verdict.value} ({plan.new.status})."
            )

        return self._mutate(actor, doc_id, run)

    def _approver(self, plan: Plan, action: str) -> None:
        self._state(plan, action, wf.APPROVAL_STATES)
        if plan.user.name not in plan.old.pending_assignees:
            raise PermissionDenied(
                f"{plan.user.name} is not an assigned approver of {plan.old.id} "
                f"(pending: {', '.join(plan.old.pending_assignees) or 'none'})",
                rule=f"permission.{action}",
            )
        if plan.user.group not in (Group.QUALITY, Group.REVIEWER):
            raise PermissionDenied(
                f"{plan.user.name} ({plan.user.group}) may not {action}: approvers are quality or reviewer",
                rule=f"permission.{action}.group",
            )

    def approve(self, actor: str, doc_id: str) -> Result:
        def run(plan: Plan) -> str:
            self._approver(plan, "approve")
            pending = tuple(u for u in plan.old.pending_assignees if u != plan.user.name)
            plan.set(pending_assignees=pending)
            plan.event("APPROVE")
            plan.remove_task(plan.user.name)
            if pending:
                return f"Recorded {plan.user.name}'s approval of {plan.old.id}; waiting for {', '.join(pending)}."
            return self._complete_approval(plan)

        return self._mutate(actor, doc_id, run)

    def _complete_approval(self, plan: Plan) -> str:
        doc = plan.old.doc
        effective = self.layout.effective_file(doc)
        if plan.old.retiring:
            if plan.old.effective_version:
                plan.archive(plan.old.effective_version, effective)
            plan.set(retiring=False, effective_version=None, review_outcomes={})
            plan.event("RETIRE")
            plan.status(Status.RETIRED)
            return f"{doc} v{plan.old.version} is RETIRED."
        draft = self.layout.draft_file(doc)
        old_effective = plan.old.effective_version
        if old_effective and self.safe.kind(effective) is not None:
            plan.archive(old_effective, effective)
        plan.archive(plan.old.version, draft)
        text = self.queries.read_document(doc, draft)
        new_version = plan.old.ver.next_major()
        plan.write(effective, text)
        plan.write(draft, None)
        plan.set(version=str(new_version), effective_version=str(new_version), review_outcomes={})
        to = wf.APPROVAL_DONE[plan.old.status]
        plan.status(to)
        if to is Status.EFFECTIVE:
            plan.event("EFFECTIVE")
        return f"{doc} approved: v{new_version} is {to}."

    def reject(self, actor: str, doc_id: str, comment: str) -> Result:
        if not comment or not comment.strip():
            raise BadRequest("reject needs a comment saying why", rule="reject.comment")
        comment = check_comment(comment, limits=self.limits, rule="reject.comment")

        def run(plan: Plan) -> str:
            self._approver(plan, "reject")
            plan.event("REJECT", comment=comment)
            self._back_out(plan)
            return f"Rejected {plan.old.id}: it is {plan.new.status} again."

        return self._mutate(actor, doc_id, run)

    def _back_out(self, plan: Plan) -> None:
        if plan.old.retiring:
            to = wf.restored_after_retire(plan.old.doc_type)
            plan.set(retiring=False)
        else:
            to = wf.WITHDRAW_TO[plan.old.status]
        if plan.old.status in wf.REVIEW_STATES:
            plan.set(review_outcomes={})
        plan.set(pending_assignees=())
        plan.remove_all_tasks()
        plan.status(to)

    def withdraw(self, actor: str, doc_id: str) -> Result:
        def run(plan: Plan) -> str:
            self._owner(plan, "withdraw")
            self._state(plan, "withdraw", wf.WITHDRAW_TO)
            plan.event("WITHDRAW")
            self._back_out(plan)
            return f"Withdrew {plan.old.id}: it is {plan.new.status}."

        return self._mutate(actor, doc_id, run)

    def release(self, actor: str, doc_id: str) -> Result:
        def run(plan: Plan) -> str:
            self._owner(plan, "release")
            self._not_checked_out(plan, "release")
            self._state(plan, "release", {Status.PRE_APPROVED})
            plan.set(execution_phase="post_release")
            plan.event("RELEASE")
            plan.status(Status.IN_EXECUTION)
            return f"Released {plan.old.id} v{plan.old.version} for execution."

        return self._mutate(actor, doc_id, run)

    def close(self, actor: str, doc_id: str) -> Result:
        def run(plan: Plan) -> str:
            self._owner(plan, "close")
            self._not_checked_out(plan, "close")
            self._state(plan, "close", {Status.POST_APPROVED})
            plan.event("CLOSE")
            plan.status(Status.CLOSED)
            return f"Closed {plan.old.id} v{plan.old.version}."

        return self._mutate(actor, doc_id, run)
