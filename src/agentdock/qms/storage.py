"""The QMS on disk: metadata, audit trail, locks and the per-document journal.

Durability model.  An operation on a document is computed in memory as a
:class:`Change` (files to write or delete, the new metadata, audit events) while
the document's cross-process lock is held.  :meth:`Storage.commit` then

0. validates every target *before* the commit point: each path is walked component by
   component without following links (:class:`~agentdock.qms.safefs.SafeRoot`) and must be
   absent or a regular file, and the change must pass the journal's own path policy — so a
   link or folder planted at a target refuses the operation cleanly, with nothing written;
1. writes the change as a sealed journal ``QMS/.meta/<TYPE>/.<ID>.journal`` (atomic: temp
   file, fsync, rename) — this is the commit point;
2. applies it: each file written atomically or deleted, audit events appended
   (``O_APPEND`` + fsync; each carries ``seq`` and ``prev``, the hash of the line before, so a
   replay appends only the missing ones), the trail's tail anchor updated in private state,
   metadata written last;
3. deletes the journal.

Every read and write goes through :class:`SafeRoot` (``O_NOFOLLOW`` on every component,
regular files only).  A journal is replayed only if its seal and paths check out
(:mod:`agentdock.qms.journal`); otherwise, or if it cannot be applied, it is quarantined and
never blocks this or any other document.  Audit trails are verified on read
(:mod:`agentdock.qms.audit`).

Ownership.  A file written into an agent's workspace is given the workspace
folder's owner when the server runs as root and they differ (agents run as a
non-root uid in their containers; a root-owned 0644 checkout could not be
edited in place there).

A process killed before step 1 leaves the document as it was; killed after it,
the next operation that takes the document's lock (or :meth:`recover_all`)
replays the journal, so the document ends up exactly as after the operation.
The audit trail is only ever appended to (a torn last line from a killed append
is cut back to the last complete event before the replay re-appends it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentdock.mcphost.files import file_lock
from agentdock.qms.audit import Anchor, TrailCheck, chain_events, encode, verify_trail
from agentdock.qms.errors import BadRequest, IntegrityError, NotFound, QmsError, StorageError, UnsafePath
from agentdock.qms.ids import DocId, DocType, Layout, existing_numbers, id_names, number_text, parse_doc_id
from agentdock.qms.index import DocIndex, summary
from agentdock.qms.journal import CorruptJournal, JournalSeal, check_paths, read_sealed
from agentdock.qms.model import Meta
from agentdock.qms.safefs import SafeRoot

__all__ = ["Change", "Storage", "utc_now"]

log = logging.getLogger("agentdock.qms.storage")

MAX_META_BYTES = 256 * 1024
MAX_AUDIT_BYTES = 64 * 1024 * 1024
MAX_CONTROLLED_BYTES = 64 * 1024 * 1024
MAX_ANCHOR_BYTES = 4 * 1024 * 1024  # ~100 bytes per archived version


def _digest(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def meta_text(meta: dict[str, Any]) -> str:
    """The exact text of a metadata file (its digest is anchored)."""
    return json.dumps(meta, indent=2, sort_keys=True) + "\n"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Change:
    """What one operation does to one document, applied all-or-nothing."""

    doc: DocId
    meta: Meta | None  # None: the document's metadata is removed (cancel)
    writes: dict[Path, str | None] = field(default_factory=dict)  # path -> text, or None to delete
    events: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""  # the document's title after the change (its row in the index)


class Storage:
    def __init__(self, root: Path) -> None:
        self.layout = Layout(root)
        self.root = root
        self.safe = SafeRoot(root)
        self.seal = JournalSeal(root)
        self.index = DocIndex(self.layout, self.safe)

    # -- locks ----------------------------------------------------------------------------------------
    def _lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        state = self.root / ".agentdock"
        if not state.exists():
            state.mkdir(mode=0o700, parents=True, exist_ok=True)
        return file_lock(self.layout.lock_file(name))

    @contextlib.contextmanager
    def document(self, doc: DocId) -> Iterator[None]:
        """Hold the document's lock, with any interrupted operation on it finished first."""
        with self._lock(f"doc-{doc.text}"):
            self._recover(doc)
            yield

    def user_lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A named cross-process lock (for example one user's creations, or an index shard)."""
        return self._lock(name)

    @contextlib.contextmanager
    def allocation(self, doc_type: DocType, parent: DocId | None) -> Iterator[None]:
        scope = f"{parent.text}-VAR" if parent else doc_type.value
        with self._lock(f"alloc-{scope}"):
            yield

    def next_id(self, doc_type: DocType, parent: DocId | None = None) -> DocId:
        """Highest existing number + 1; call while holding :meth:`allocation`."""
        used = existing_numbers(self.layout, doc_type, parent)
        number = number_text(max(used, default=0) + 1)
        text = f"{parent.text}-VAR-{number}" if parent else f"{doc_type.value}-{number}"
        return parse_doc_id(text)

    # -- reading --------------------------------------------------------------------------------------
    def read_text(self, path: Path, *, limit: int | None = None) -> str | None:
        """A QMS file's text (None if absent), reached without links; UnsafePath otherwise."""
        return self.safe.read_text(path, limit=limit)

    def is_file(self, path: Path) -> bool:
        return self.safe.is_file(path)

    def load_meta(self, doc: DocId) -> Meta:
        path = self.layout.meta_file(doc)
        raw = self.safe.read_text(path, limit=MAX_META_BYTES)
        if raw is None:
            gone = self.safe.kind(self.layout.audit_file(doc)) is not None
            hint = " (it was cancelled; its history remains)" if gone else ""
            raise NotFound(f"no document {doc.text}{hint}", rule="document.unknown")
        try:
            meta = Meta.from_json(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise StorageError(f"{path} is not valid JSON: {exc}", rule="storage.meta") from exc
        if meta.id != doc.text:
            raise StorageError(f"{path} holds metadata for {meta.id}", rule="storage.meta")
        self._verify(doc, "meta", raw)
        return meta

    def _controlled(self, doc: DocId) -> dict[str, Path]:
        return {"draft": self.layout.draft_file(doc), "effective": self.layout.effective_file(doc)}

    def _archive_key(self, doc: DocId, path: Path) -> str | None:
        """``v<N.X>`` for one of ``doc``'s archived versions, else None."""
        folder = self.layout.archive_file(doc, "0.0").parent
        prefix, suffix = f"{doc.text}-v", ".md"
        if path.parent == folder and path.name.startswith(prefix) and path.name.endswith(suffix):
            return "v" + path.name[len(prefix) : -len(suffix)]
        return None

    def _verify(self, doc: DocId, key: str, data: bytes | str | None) -> None:
        """IntegrityError unless ``data`` is what the QMS last wrote for ``key`` (per the anchor)."""
        anchor = self._anchor(doc)
        if anchor is None or key not in anchor.files:
            return  # written before digests were anchored
        if _digest(data) != anchor.files[key]:
            archived = key.startswith("v")
            shown = (
                "metadata" if key == "meta" else f"archived version {key[1:]}" if archived else f"{key} copy"
            )
            raise IntegrityError(
                f"{doc.text}'s {shown} changed outside the QMS (it is not what the QMS wrote); "
                "it is not trusted — restore it (see `qms doctor`)",
                rule=f"storage.{'archive' if archived else key}-changed",
            )

    def read_controlled(self, doc: DocId, path: Path) -> str | None:
        """A document file's text (draft, effective copy or archive), verified against the anchor
        for the draft and the effective copy; None if absent."""
        text = self.safe.read_text(path, limit=MAX_CONTROLLED_BYTES)
        for key, controlled in self._controlled(doc).items():
            if path == controlled:
                self._verify(doc, key, text)
        archived = self._archive_key(doc, path)
        if archived is not None:
            self._verify(doc, archived, text)
        return text

    def verify_files(self, doc: DocId, *, archives: bool = True) -> None:
        """IntegrityError if the metadata, draft, effective copy (or, with ``archives``, an archived
        version) is not what the QMS wrote."""
        for key, path in {"meta": self.layout.meta_file(doc), **self._controlled(doc)}.items():
            self._verify(doc, key, self.safe.read_bytes(path, limit=MAX_CONTROLLED_BYTES))
        anchor = self._anchor(doc) if archives else None
        for key in anchor.files if anchor else {}:
            if key.startswith("v"):
                path = self.layout.archive_file(doc, key[1:])
                self._verify(doc, key, self.safe.read_bytes(path, limit=MAX_CONTROLLED_BYTES))

    def exists(self, doc: DocId) -> bool:
        return self.safe.is_file(self.layout.meta_file(doc))

    def listing(self, kind: str = ".meta") -> dict[DocType, list[str]]:
        """The names in each type's ``QMS/.meta`` (or ``.audit``) folder; UnsafePath for a linked one."""
        return {t: self.safe.listdir(self.layout.qms / kind / t.value) for t in DocType}

    def all_documents(self, listing: dict[DocType, list[str]] | None = None) -> list[DocId]:
        """Every document with metadata, in id order (numeric: CR-999 before CR-1000)."""
        return [DocId(text) for text in self.document_names(listing)]

    def document_names(self, listing: dict[DocType, list[str]] | None = None) -> list[str]:
        """The ids of every document with metadata, as text, in id order."""
        listing = listing or self.listing()
        return id_names([n for names in listing.values() for n in names], ".json")

    def known_ids(self) -> set[str]:
        """The names of every document with metadata or an audit trail (no parsing: a set of names
        to compare with the index's)."""
        known: set[str] = set()
        for kind, suffix in ((".meta", ".json"), (".audit", ".jsonl")):
            for names in self.listing(kind).values():
                cut = -len(suffix)
                known.update(n[:cut] for n in names if n.endswith(suffix) and not n.startswith("."))
        return known

    def trail_names(self) -> list[str]:
        """The ids of every document with an audit trail (cancelled ones included), in id order."""
        return id_names([n for names in self.listing(".audit").values() for n in names], ".jsonl")

    def creation(self, doc: DocId) -> tuple[str, str] | None:
        """Who created ``doc`` and when: the trail's first line, if it is a CREATE event."""
        try:
            head = self.safe.read_head(self.layout.audit_file(doc), 4096)
            first = json.loads(head.split(b"\n", 1)[0]) if head else None
        except (QmsError, ValueError):
            return None
        if isinstance(first, dict) and first.get("event") == "CREATE" and isinstance(first.get("user"), str):
            return first["user"], str(first.get("ts"))
        return None

    def _anchor(self, doc: DocId) -> Anchor | None:
        raw = self.safe.read_text(self.layout.audit_anchor(doc), limit=MAX_ANCHOR_BYTES)
        if raw is None:
            return None
        try:
            return Anchor.from_json(json.loads(raw))
        except json.JSONDecodeError:
            return None

    def check_audit(self, doc: DocId) -> TrailCheck:
        """The trail's events and whether its chain and tail anchor hold."""
        text = self.safe.read_text(self.layout.audit_file(doc), limit=MAX_AUDIT_BYTES)
        return verify_trail(doc.text, text, self._anchor(doc))

    def creations(self, user: str) -> list[str]:
        """The timestamps of every CREATE event by ``user`` (the first line of each trail)."""
        stamps = []
        for doc_type in DocType:
            folder = self.layout.qms / ".audit" / doc_type.value
            for name in self.safe.listdir(folder):
                if not name.endswith(".jsonl"):
                    continue
                try:
                    head = self.safe.read_head(folder / name, 4096)
                    first = json.loads(head.split(b"\n", 1)[0]) if head else None
                except (QmsError, ValueError):
                    continue
                if isinstance(first, dict) and first.get("event") == "CREATE" and first.get("user") == user:
                    stamps.append(str(first.get("ts")))
        return stamps

    def audit(self, doc: DocId) -> list[dict[str, Any]]:
        """The trail's events (verified or not: see :meth:`check_audit`)."""
        return self.check_audit(doc).events

    # -- writing --------------------------------------------------------------------------------------
    def commit(self, change: Change, *, base_seq: int) -> None:
        """Validate, journal, then apply ``change``; events get ``seq`` numbers after ``base_seq``."""
        doc = change.doc
        trail = self.check_audit(doc)
        if not trail.ok:
            raise IntegrityError(
                f"{doc.text}'s audit trail is {trail.summary}; nothing is appended to a trail that cannot be "
                "trusted (see `qms doctor`)",
                rule="audit.broken",
            )
        have = trail.tail.seq if trail.tail else 0
        if have != base_seq:
            raise IntegrityError(
                f"{doc.text}: the metadata counts {base_seq} audit events, the trail holds {have}",
                rule="audit.mismatch",
            )
        # Nothing is re-anchored on top of files changed behind the QMS (archived versions are
        # checked when read, and by `qms doctor`, not on every commit).
        self.verify_files(doc, archives=False)
        events = [{**event, "seq": base_seq + i} for i, event in enumerate(change.events, 1)]
        lines, tail = chain_events(doc.text, trail.tail, events)
        files = {"meta": _digest(None if change.meta is None else meta_text(change.meta.to_json()))}
        for key, path in self._controlled(doc).items():
            if path in change.writes:
                files[key] = _digest(change.writes[path])
            else:
                files[key] = _digest(self.safe.read_bytes(path, limit=MAX_CONTROLLED_BYTES))
        if (base := self._anchor(doc)) is not None:  # archived versions stay anchored
            files.update({k: v for k, v in base.files.items() if k.startswith("v")})
        for path, text in change.writes.items():
            archived = self._archive_key(doc, path)
            if archived is not None:
                files[archived] = _digest(text)
        anchor = Anchor(tail.seq, tail.hash, files)
        journal = {
            "doc": doc.text,
            "meta": None if change.meta is None else change.meta.to_json(),
            "writes": [[self.layout.relative(p), text] for p, text in change.writes.items()],
            "events": [json.loads(line) for line in lines],
            "base": None if base is None else base.to_json(),
            "anchor": anchor.to_json(),
            "index": {"title": change.title, "created": _created(change.events)},
        }
        check_paths(self.layout, doc, journal)  # our own policy: a bug here is caught before disk
        for path, text in change.writes.items():
            if text is None:
                if self.safe.kind(path) == "dir":
                    raise UnsafePath(f"{self.layout.relative(path)} is a directory", rule="path.not-file")
            else:
                self.safe.check_target(path)
        for path in (
            self.layout.meta_file(doc),
            self.layout.audit_file(doc),
            self.layout.journal_file(doc),
            self.layout.audit_anchor(doc),
        ):
            self.safe.check_target(path)
        self.safe.write_text(self.layout.journal_file(doc), self.seal.seal(journal))
        self._apply(doc, journal)

    def recover_all(self, listing: dict[DocType, list[str]] | None = None) -> list[DocId]:
        """Finish every interrupted operation (each under its document's lock) and quarantine what
        cannot be finished; returns the documents whose journal was found.  Never raises for one
        document's trouble: it is logged and the others go on."""
        found: list[DocId] = []
        meta_root = self.layout.qms / ".meta"
        for doc_type in DocType:
            folder = meta_root / doc_type.value
            try:
                names = listing[doc_type] if listing is not None else self.safe.listdir(folder)
            except UnsafePath as exc:  # reported, and the other folders still recover
                log.error("cannot look for interrupted operations in %s: %s", folder, exc)
                continue
            for name in names:
                if not (name.startswith(".") and name.endswith(".journal")):
                    continue
                try:
                    doc = parse_doc_id(name[1 : -len(".journal")])
                except BadRequest:
                    self._quarantine(folder / name, "its name is not a document's journal")
                    continue
                if doc.type is not doc_type:
                    self._quarantine(folder / name, f"a {doc.type} journal in the {doc_type} folder")
                    continue
                try:
                    with self.document(doc):
                        found.append(doc)
                except QmsError as exc:
                    log.error("cannot finish the interrupted operation on %s: %s", doc, exc)
        return found

    def pending_journal(self, doc: DocId) -> bool:
        return self.safe.kind(self.layout.journal_file(doc)) is not None

    def quarantined(self) -> list[dict[str, Any]]:
        """Every quarantined journal with the reason it was set aside."""
        folder = self.layout.quarantine_dir()
        found = []
        for name in self.safe.listdir(folder):
            if not name.endswith(".reason.json"):
                continue
            try:
                raw = self.safe.read_text(folder / name, limit=64 * 1024) or "{}"
                info = json.loads(raw)
            except (QmsError, json.JSONDecodeError, UnicodeDecodeError):
                info = {"reason": "unreadable reason file"}
            if isinstance(info, dict):
                found.append(
                    {"file": self.layout.relative(folder / name.removesuffix(".reason.json")), **info}
                )
        return found

    def _quarantine(self, path: Path, reason: str, doc: DocId | None = None) -> None:
        stamp = utc_now().replace(":", "").replace("-", "")
        kind = path.parent.name
        target = self.layout.quarantine_dir() / f"{stamp}-{kind}-{path.name.lstrip('.')}"
        try:
            self.safe.move(path, target)
        except (OSError, QmsError) as exc:
            log.error("cannot move %s aside (%s); removing it", path, exc)
            with contextlib.suppress(OSError, QmsError):
                self.safe.unlink(path)
        info = {
            "reason": reason,
            "doc": doc.text if doc else None,
            "at": utc_now(),
            "from": self.layout.relative(path),
        }
        with contextlib.suppress(OSError, QmsError):
            self.safe.write_text(target.with_name(target.name + ".reason.json"), json.dumps(info) + "\n")
        log.error("quarantined journal %s: %s (moved to %s)", path, reason, target)

    def _recover(self, doc: DocId) -> None:
        path = self.layout.journal_file(doc)
        if self.safe.kind(path) is None:  # UnsafePath if a folder on the way is a link: refused, not moved
            return
        try:
            journal = read_sealed(self.safe, path, self.seal)
            if journal is None:
                return
            check_paths(self.layout, doc, journal)
            self._check_fresh(doc, journal)
        except CorruptJournal as exc:
            self._quarantine(path, f"corrupt journal: {exc.message}", doc)
            return
        try:
            self._apply(doc, journal)
        except (UnsafePath, CorruptJournal) as exc:
            self._quarantine(path, f"cannot be applied: {exc.message}", doc)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"cannot finish the interrupted operation on {doc}: {exc}", rule="storage.journal"
            ) from exc

    def _check_fresh(self, doc: DocId, journal: dict[str, Any]) -> None:
        """A sealed journal is replayed only onto the state it was made for: the private tail anchor
        must be its ``base`` (not applied yet) or its ``anchor`` (applied up to the audit step).
        An old genuine journal planted again (a replay) finds a newer anchor and is refused."""
        current = self._anchor(doc)
        base, final = Anchor.from_json(journal.get("base")), Anchor.from_json(journal.get("anchor"))
        if final is None or current not in (base, final):
            raise CorruptJournal(
                "stale: it was made for another state of the document (an old journal planted again?)"
            )

    def _apply(self, doc: DocId, journal: dict[str, Any]) -> None:
        touched: set[Path] = set()  # folders to fsync once, before the journal goes
        for relative, text in journal["writes"]:
            path = self.root / relative
            agent_folder = relative.startswith(".claude/users/")
            touched.add(path.parent)
            try:
                if text is None:
                    self.safe.unlink(path, sync_dir=False)
                else:
                    self.safe.write_text(path, text, sync_dir=False)
                    if agent_folder:
                        self._give_to_workspace_owner(path)
            except UnsafePath as exc:
                if not agent_folder:
                    raise
                # An agent's own folder changed under us (a link raced in): skip its copy, not the QMS's.
                log.warning("skipped %s for %s: %s", relative, doc, exc)
        self._append_events(doc, journal["events"])
        anchor = Anchor.from_json(journal.get("anchor"))
        if anchor is None:
            raise CorruptJournal("it has no audit anchor")
        anchor_path, meta_path = self.layout.audit_anchor(doc), self.layout.meta_file(doc)
        self.safe.write_text(anchor_path, json.dumps(anchor.to_json()) + "\n", mode=0o600, sync_dir=False)
        if journal["meta"] is None:
            self.safe.unlink(meta_path, sync_dir=False)
        else:
            self.safe.write_text(meta_path, meta_text(journal["meta"]), sync_dir=False)
        self._index(doc, journal)
        for folder in {*touched, anchor_path.parent, meta_path.parent, self.index.folder}:
            try:
                self.safe.fsync_dir(folder)
            except UnsafePath as exc:  # an agent's folder swapped for a link: its copy was skipped above
                log.warning("not flushing %s: %s", folder, exc)
        self.safe.unlink(self.layout.journal_file(doc))

    def _index(self, doc: DocId, journal: dict[str, Any]) -> None:
        """The document's index row, in the same journaled step (a journal from before the index
        existed has none: the shard is then found stale and rebuilt by the next reader)."""
        entry = journal.get("index")
        if not isinstance(entry, dict):
            return
        meta = journal["meta"]
        view = None if meta is None else summary({**meta, "title": str(entry.get("title", ""))})
        raw = entry.get("created")
        created = (str(raw[0]), str(raw[1])) if isinstance(raw, list) and len(raw) == 2 else None
        self.index.record(doc, view, created, lock=self._lock, creation_of=self.creation)

    def _give_to_workspace_owner(self, path: Path) -> None:
        """As root, hand a file just written into an agent's workspace to the workspace's owner."""
        if os.geteuid() != 0:
            return
        if path.parent.name != "workspace":
            return
        try:
            self.safe.chown_like_folder(path)
        except (OSError, QmsError) as exc:  # the write itself succeeded; the agent may only have to copy it
            log.warning("cannot give %s to the owner of %s: %s", path, path.parent, exc)

    def _append_events(self, doc: DocId, events: list[dict[str, Any]]) -> None:
        path = self.layout.audit_file(doc)
        data = self.safe.read_bytes(path, limit=MAX_AUDIT_BYTES)
        last_seq = 0
        if data:
            if not data.endswith(b"\n"):
                # A torn append from a killed process: cut back to the last complete event.
                self.safe.truncate(path, data.rfind(b"\n") + 1)
                data = data[: data.rfind(b"\n") + 1]
            last_seq = data.count(b"\n")
        for event in events:
            if int(event["seq"]) > last_seq:
                self.safe.append_line(path, encode(event))


def _created(events: list[dict[str, Any]]) -> list[str] | None:
    for event in events:
        if event.get("event") == "CREATE":
            return [str(event.get("user")), str(event.get("ts"))]
    return None
