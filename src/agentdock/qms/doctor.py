"""``qms doctor``: everything the QMS refuses to trust, in one report.

* the roster's state (``ok``, ``missing``, ``unconfirmed``, ``changed``: see :mod:`agentdock.qms.roster`);
* journals quarantined (never replayed) and why, and journals still pending;
* each document's audit trail: intact, legacy, or broken from which entry (:mod:`agentdock.qms.audit`);
* metadata that disagrees with its trail (event count).

Read-only apart from finishing interrupted operations (which quarantines unsound journals).
"""

from __future__ import annotations

from typing import Any

from agentdock.qms.errors import QmsError
from agentdock.qms.ids import DocType, parse_doc_id
from agentdock.qms.model import Result
from agentdock.qms.queries import QmsQueries

__all__ = ["diagnose"]


def _trail_documents(qms: QmsQueries) -> list[str]:
    names: set[str] = set()
    for doc_type in DocType:
        for folder in (qms.layout.qms / ".audit" / doc_type.value, qms.layout.qms / ".meta" / doc_type.value):
            for name in qms.safe.listdir(folder):
                stem = name.split(".", 1)[0]
                if stem and (name.endswith(".jsonl") or name.endswith(".json")):
                    names.add(stem)
    return sorted(names)


def diagnose(qms: QmsQueries) -> tuple[bool, Result]:
    """``(healthy, report)``."""
    problems: list[str] = []
    lines: list[str] = []
    state, message = qms.roster.state()
    lines.append(f"roster: {state} — {message}")
    if state != "ok":
        problems.append(f"roster {state}")
    recovered = qms.storage.recover_all()
    if recovered:
        lines.append(f"finished interrupted operations on: {', '.join(map(str, recovered))}")
    quarantined = qms.storage.quarantined()
    for item in quarantined:
        lines.append(f"quarantined journal {item['file']}: {item.get('reason')} (doc {item.get('doc')})")
    if quarantined:
        problems.append(f"{len(quarantined)} quarantined journal(s)")
    trails: dict[str, Any] = {}
    for name in _trail_documents(qms):
        try:
            doc = parse_doc_id(name)
        except QmsError:
            continue
        check = qms.storage.check_audit(doc)
        trails[doc.text] = {"audit": check.summary, "broken_at": check.broken_at}
        if not check.ok:
            problems.append(f"{doc} audit trail broken")
            lines.append(f"{doc}: audit trail {check.summary}")
            continue
        if qms.storage.exists(doc):
            try:
                with qms.storage.document(doc):
                    meta = qms.storage.load_meta(doc)
                qms.storage.verify_files(doc)
            except QmsError as exc:
                problems.append(f"{doc} files not trusted")
                lines.append(f"{doc}: not trusted: [{exc.rule}] {exc.message}")
                continue
            have = check.tail.seq if check.tail else 0
            if meta.audit_seq != have:
                problems.append(f"{doc} metadata/trail mismatch")
                lines.append(f"{doc}: metadata counts {meta.audit_seq} events, the trail holds {have}")
    lines.append(
        f"{len(trails)} audit trail(s) checked; "
        + ("healthy" if not problems else f"{len(problems)} problem(s)")
    )
    data = {
        "healthy": not problems,
        "problems": problems,
        "roster": state,
        "quarantined": quarantined,
        "trails": trails,
    }
    return not problems, Result("\n".join(lines), data)
