"""``qms``: the QMS at a terminal.

``qms --project-root DIR --user U <command> ...`` (the root defaults to the
nearest folder above the cwd holding ``QMS/``; the user to ``QMS_USER``), and
``qms init --root DIR``; ``qms roster [show|set USER GROUP|remove USER|accept|import]`` and
``qms doctor`` act on the project itself, not as a QMS user (no ``--user``): the roster is
changed by a person at a terminal, never through an MCP tool.  Output is human-readable; ``--json`` prints one JSON
object.  Exit codes: 0 done, 1 refused (workflow, permission, not found,
invalid document), 2 bad usage (malformed id, unknown option…).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.clirun import run_cli
from agentdock.qms.doctor import diagnose
from agentdock.qms.errors import BadRequest, QmsError
from agentdock.qms.project import find_root, init_project
from agentdock.qms.queries import QmsQueries
from agentdock.qms.roster import Roster
from agentdock.qms.service import Qms, Result

__all__ = ["main"]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Config:
    root: Path
    user: str | None
    json: bool


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project-root", type=Path, default=argparse.SUPPRESS, help="project root")
    common.add_argument("--user", default=argparse.SUPPRESS, help="acting user (default: $QMS_USER)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    parser = argparse.ArgumentParser(
        prog="qms", description="Document control: SOPs, CRs, INVs, VARs.", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def cmd(name: str, help_: str, doc: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, parents=[common])
        if doc:
            p.add_argument("doc_id", metavar="ID")
        return p

    init = sub.add_parser("init", help="create a QMS project with the default agents", parents=[common])
    init.add_argument("--root", type=Path, required=True)
    roster = sub.add_parser(
        "roster",
        help="(a person, never an agent) show or change who is in which group",
        parents=[common],
        description="The roster decides every permission. Without an action it is shown with its state.",
    )
    roster.add_argument(
        "action", nargs="?", default="show", choices=["show", "set", "remove", "accept", "import"]
    )
    roster.add_argument("name", nargs="?", metavar="USER")
    roster.add_argument("group", nargs="?", metavar="GROUP")
    sub.add_parser(
        "doctor",
        help="report what the QMS does not trust: roster, quarantined journals, broken audit trails",
        parents=[common],
    )
    create = cmd("create", "create a document (checked out to you)", doc=False)
    create.add_argument("doc_type", metavar="TYPE", help="SOP, CR, INV or VAR")
    create.add_argument("--title", required=True)
    create.add_argument("--parent", help="the CR or INV a VAR belongs to")
    read = cmd("read", "print a document")
    read.add_argument("--version", help="an archived or current version N.X")
    cmd("checkout", "check a document out into your workspace")
    cmd("checkin", "check your workspace copy back in")
    route = cmd("route", "route for review or approval")
    which = route.add_mutually_exclusive_group(required=True)
    which.add_argument("--review", action="store_const", const="review", dest="workflow")
    which.add_argument("--approval", action="store_const", const="approval", dest="workflow")
    route.add_argument("--retire", action="store_true", help="with --approval: route for retirement")
    assign = cmd("assign", "add reviewers/approvers (quality)")
    assign.add_argument("assignees", nargs="+", metavar="USER")
    review = cmd("review", "record your review")
    outcome = review.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--recommend", action="store_const", const="recommend", dest="outcome")
    outcome.add_argument("--request-updates", action="store_const", const="request_updates", dest="outcome")
    review.add_argument("--comment", default="")
    cmd("approve", "approve a document assigned to you")
    reject = cmd("reject", "reject a document assigned to you")
    reject.add_argument("--comment", required=True)
    cmd("withdraw", "pull your document back out of review or approval")
    cmd("release", "release a pre-approved executable document")
    cmd("close", "close a post-approved executable document")
    cancel = cmd("cancel", "delete a never-approved document (history stays)")
    cancel.add_argument("--confirm", action="store_true")
    status = cmd("status", "a document's state (all documents without ID)", doc=False)
    status.add_argument("doc_id", metavar="ID", nargs="?")
    cmd("history", "a document's audit trail")
    cmd("comments", "review and rejection comments")
    cmd("inbox", "your tasks", doc=False)
    cmd("workspace", "your checked-out documents", doc=False)
    return parser


COMMANDS: Mapping[str, Callable[[Qms, str, argparse.Namespace], Result]] = {
    "create": lambda q, u, a: q.create(u, a.doc_type, a.title, a.parent),
    "read": lambda q, u, a: q.read(u, a.doc_id, a.version),
    "checkout": lambda q, u, a: q.checkout(u, a.doc_id),
    "checkin": lambda q, u, a: q.checkin(u, a.doc_id),
    "route": lambda q, u, a: q.route(u, a.doc_id, a.workflow, retire=a.retire),
    "assign": lambda q, u, a: q.assign(u, a.doc_id, a.assignees),
    "review": lambda q, u, a: q.review(u, a.doc_id, a.outcome, a.comment),
    "approve": lambda q, u, a: q.approve(u, a.doc_id),
    "reject": lambda q, u, a: q.reject(u, a.doc_id, a.comment),
    "withdraw": lambda q, u, a: q.withdraw(u, a.doc_id),
    "release": lambda q, u, a: q.release(u, a.doc_id),
    "close": lambda q, u, a: q.close(u, a.doc_id),
    "cancel": lambda q, u, a: q.cancel(u, a.doc_id, confirm=a.confirm),
    "status": lambda q, u, a: q.status(u, a.doc_id),
    "history": lambda q, u, a: q.history(u, a.doc_id),
    "comments": lambda q, u, a: q.comments(u, a.doc_id),
    "inbox": lambda q, u, a: q.inbox(u),
    "workspace": lambda q, u, a: q.workspace(u),
}


def _emit(
    config_json: bool, ok: bool, message: str, data: dict[str, Any] | None = None, rule: str | None = None
) -> None:
    if config_json:
        payload: dict[str, Any] = {"ok": ok, "message": message}
        if data is not None:
            payload["data"] = data
        if rule is not None:
            payload["rule"] = rule
        print(json.dumps(payload, indent=2, default=str))
    elif ok:
        print(message)
    else:
        print(f"qms: refused [{rule}]: {message}" if rule else f"qms: {message}", file=sys.stderr)


def _roster(root: Path, args: argparse.Namespace, as_json: bool) -> int:
    roster = Roster(root)
    action = args.action
    if action in ("set", "remove") and not args.name:
        raise BadRequest(f"roster {action} needs USER", rule="roster.usage")
    if action == "set" and not args.group:
        raise BadRequest("roster set needs USER GROUP", rule="roster.usage")
    if action == "set":
        roster.set(args.name, args.group)
    elif action == "remove":
        roster.remove(args.name)
    elif action == "accept":
        roster.accept()
    elif action == "import":
        roster.import_agent_files()
    state, message = roster.state()
    users = roster.unverified()
    lines = [f"{u.name:<12} {u.group}" for u in users.values()]
    lines.append(f"({state}: {message})")
    data = {"state": state, "users": {u.name: u.group.value for u in users.values()}}
    _emit(as_json, True, "\n".join(lines), data)
    return EXIT_OK if state == "ok" else EXIT_REFUSED


def _doctor(root: Path, args: argparse.Namespace, as_json: bool) -> int:
    healthy, result = diagnose(QmsQueries(root))
    _emit(as_json, True, result.message, result.data)
    return EXIT_OK if healthy else EXIT_REFUSED


def _main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    as_json = bool(getattr(args, "json", False))
    if args.command in ("roster", "doctor"):
        root = getattr(args, "project_root", None) or find_root(Path.cwd())
        if root is None:
            _emit(as_json, False, "no project root: pass --project-root DIR")
            return EXIT_USAGE
        run = _roster if args.command == "roster" else _doctor
        try:
            return run(Path(root).resolve(), args, as_json)
        except BadRequest as exc:
            _emit(as_json, False, exc.message, rule=exc.rule)
            return EXIT_USAGE
        except QmsError as exc:
            _emit(as_json, False, exc.message, rule=exc.rule)
            return EXIT_REFUSED
    if args.command == "init":
        try:
            created = init_project(args.root)
        except QmsError as exc:
            _emit(as_json, False, exc.message, rule=exc.rule)
            return EXIT_USAGE
        root = args.root.resolve()
        _emit(
            as_json,
            True,
            f"Initialised a QMS project at {root} ({len(created)} paths created).",
            {"root": str(root), "created": [str(p) for p in created]},
        )
        return EXIT_OK
    root = getattr(args, "project_root", None) or find_root(Path.cwd())
    if root is None:
        _emit(
            as_json,
            False,
            "no project root: pass --project-root DIR or run inside a QMS project "
            "(create one with `qms init --root DIR`)",
        )
        return EXIT_USAGE
    config = Config(
        root=Path(root).resolve(), user=getattr(args, "user", None) or env.get("QMS_USER"), json=as_json
    )
    if not config.user:
        _emit(config.json, False, "no user: pass --user U or set QMS_USER")
        return EXIT_USAGE
    try:
        result = COMMANDS[args.command](Qms(config.root), config.user, args)
    except BadRequest as exc:
        _emit(config.json, False, exc.message, rule=exc.rule)
        return EXIT_USAGE
    except QmsError as exc:
        _emit(config.json, False, exc.message, rule=exc.rule)
        return EXIT_REFUSED
    except PermissionError as exc:
        # agentdock's private state (locks, anchors) is not ours to use here: inside an agent
        # container it is masked (`inbox` reads without it)
        where = config.root / ".agentdock"
        _emit(
            config.json,
            False,
            f"cannot use the QMS's private state ({exc.strerror}: {exc.filename or where}); inside an agent "
            "container use the qms MCP tools (qms_status, qms_read, qms_history) instead",
            rule="state.unreadable",
        )
        return EXIT_REFUSED
    _emit(config.json, True, result.message, result.data)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """``qms``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("qms", lambda: _main(argv, environ))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
