"""The document index: what ``qms status`` of everything and the creation-rate limit need, without
reading every document.

*Where.*  ``.agentdock/qms/index/<TYPE>-<block>.json`` — agentdock's private state, beside the audit
anchors, not under ``QMS/``.  The index decides things (the per-user creation limit counts from it),
so it must be out of every agent's reach: ``.agentdock/`` is masked in containers and a protected
zone of git-mcp, whereas ``QMS/.meta`` can still be reached by a planted write (a gateway miss, a
``pull``).  It is also derived state that git must not version: one file that every operation
rewrites would conflict on every merge, and a branch switch would bring an index describing another
branch's files.  Kept private, a branch switch can only make it *stale*, which is detected.

*Shards.*  Documents are grouped by their top-level id in blocks of 100 numbers (``CR-0`` holds
``CR-001``…``CR-099`` and their variances), so one operation rewrites one small file, not an index
of every document.

*Same commit.*  :class:`~agentdock.qms.storage.Storage` puts the document's row (its title and, on
create, who created it when) in the operation's sealed journal and writes the shard while applying
it, after the metadata, under the shard's lock — so a SIGKILL anywhere is finished by the journal's
replay, and the row says exactly what the operation committed.

*Never trusted over the files.*  Each row carries the ``(inode, size, mtime, ctime)`` of the
metadata file as the QMS left it.  A reader lists the metadata folders (it does so anyway to finish
interrupted operations), and a shard whose documents differ from the listing, or whose rows'
signatures differ from the files (a branch switch, a restore, an edit around the QMS: ``ctime``
cannot be set back), is rebuilt from the files themselves; a missing or unparseable shard is rebuilt
too.  A document that cannot be read is never cached: it is checked on every read.  Permission and
workflow decisions always load the verified metadata, never the index.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.qms.errors import QmsError, UnsafePath
from agentdock.qms.ids import DocId, Layout
from agentdock.qms.safefs import SafeRoot

__all__ = [
    "BLOCK",
    "FORMAT",
    "SUMMARY",
    "DocIndex",
    "Folders",
    "Row",
    "Signature",
    "kind_of_text",
    "shard_of",
    "shard_of_text",
    "summary",
    "unchanged",
]

BLOCK = 100
FORMAT = 2  # 2: a row's view is its summary (format 1 held the whole metadata: rebuilt on read)
MAX_SHARD_BYTES = 16 * 1024 * 1024

#: The metadata file's (inode, size, mtime_ns, ctime_ns), or None when there is none.
Signature = tuple[int, int, int, int] | None


#: What ``status`` of everything shows of a document (the columns of its text); the rest of the
#: metadata is one ``status DOC`` away.  Kept small on purpose: at 10,000 documents the listing is
#: serialised by the MCP SDK once per call, and its cost grows with every field of every row.
SUMMARY = ("id", "version", "status", "owner", "title")


def summary(view: Mapping[str, Any]) -> dict[str, Any]:
    """A document's row in ``status`` of everything: the :data:`SUMMARY` fields of its view."""
    return {key: view.get(key) for key in SUMMARY}


def shard_of(doc: DocId) -> str:
    """The shard holding ``doc``: its top-level id's type and block of 100 numbers (``CR-0``)."""
    top = doc.parent or doc
    return f"{top.type.value}-{top.number // BLOCK}"


@dataclass(frozen=True)
class Row:
    """One document as the index knows it."""

    sig: Signature
    view: dict[str, Any] | None  # what ``qms status`` shows for it, :func:`summary` (None: cancelled)
    creator: str | None
    created: str | None

    def to_json(self) -> list[Any]:
        return [list(self.sig) if self.sig else None, self.view, self.creator, self.created]

    @classmethod
    def from_json(cls, raw: object) -> Row | None:
        if not (isinstance(raw, list) and len(raw) == 4):
            return None
        sig, view, creator, created = raw
        if sig is not None and not (
            isinstance(sig, list) and len(sig) == 4 and all(isinstance(x, int) for x in sig)
        ):
            return None
        if view is not None and not isinstance(view, dict):
            return None
        if not all(x is None or isinstance(x, str) for x in (creator, created)):
            return None
        return cls(tuple(sig) if sig else None, view, creator, created)


class DocIndex:
    """Reads, updates and rebuilds the index shards of one project root."""

    def __init__(self, layout: Layout, safe: SafeRoot) -> None:
        self.layout = layout
        self.safe = safe
        self.folder = layout.private_dir() / "index"
        self._cache: dict[str, tuple[Signature, dict[str, Row]]] = {}

    def forget(self) -> None:
        """Drop the shards parsed in memory (the next read parses the files again)."""
        self._cache.clear()

    def path(self, shard: str) -> Path:
        return self.folder / f"{shard}.json"

    # -- signatures -----------------------------------------------------------------------------------
    def signature(self, doc: DocId) -> Signature:
        """The metadata file's signature (None if absent or not a regular file reached safely)."""
        return self._stat(self.layout.meta_file(doc))

    def _stat(self, path: Path) -> Signature:
        parts = self.safe.parts(path)
        try:
            with self.safe.directory(parts[:-1]) as folder:
                if folder is None:
                    return None
                info = os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
        except (FileNotFoundError, UnsafePath):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)

    # -- shards ---------------------------------------------------------------------------------------
    def load(self, shard: str) -> dict[str, Row] | None:
        """The shard's rows (None if missing or unreadable); parsed once per version of the file."""
        loaded = self.load_signed(shard)
        return None if loaded is None else loaded[1]

    def shard_signatures(self, shards: Iterable[str]) -> dict[str, Signature]:
        """Each shard file's signature (None when absent), the index folder opened once."""
        try:
            with self.safe.directory(self.safe.parts(self.folder)) as folder:
                if folder is None:
                    return dict.fromkeys(shards)
                return {shard: _signature(f"{shard}.json", folder) for shard in shards}
        except UnsafePath:
            return dict.fromkeys(shards)

    def load_signed(self, shard: str) -> tuple[Signature, dict[str, Row]] | None:
        """:meth:`load` with the signature of the file version the rows were parsed from (taken
        before reading: a file replaced in between is seen as changed by the next comparison)."""
        path = self.path(shard)
        sig = self._stat(path)
        if sig is None:
            self._cache.pop(shard, None)
            return None
        cached = self._cache.get(shard)
        if cached is not None and cached[0] == sig:
            return cached
        try:
            raw = self.safe.read_bytes(path, limit=MAX_SHARD_BYTES)
            data = json.loads(raw) if raw is not None else None
        except (QmsError, ValueError):
            return None
        if not (
            isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("docs"), dict)
        ):
            return None
        rows: dict[str, Row] = {}
        for name, raw_row in data["docs"].items():
            row = Row.from_json(raw_row)
            if row is None:
                return None
            rows[str(name)] = row
        self._cache[shard] = (sig, rows)
        return sig, rows

    def store(self, shard: str, rows: Mapping[str, Row], *, sync_dir: bool = True) -> None:
        body = {"format": FORMAT, "docs": {name: row.to_json() for name, row in sorted(rows.items())}}
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=True) + "\n"
        self.safe.write_text(self.path(shard), text, mode=0o600, sync_dir=sync_dir)
        self._cache.pop(shard, None)

    # -- maintenance (called by Storage while it applies a journal, under the document's lock) --------
    def record(
        self,
        doc: DocId,
        view: dict[str, Any] | None,
        created: tuple[str, str] | None,
        *,
        lock: Callable[[str], contextlib.AbstractContextManager[None]],
        creation_of: Callable[[DocId], tuple[str, str] | None],
    ) -> None:
        """Set ``doc``'s row after its metadata was written (``view`` None: it was cancelled)."""
        shard = shard_of(doc)
        with lock(f"index-{shard}"):
            rows = dict(self.load(shard) or {})
            old = rows.get(doc.text)
            if created is None:
                created = (
                    (old.creator, old.created) if old and old.creator and old.created else creation_of(doc)
                )
            creator, stamp = created if created else (None, None)
            rows[doc.text] = Row(self.signature(doc) if view is not None else None, view, creator, stamp)
            self.store(shard, rows, sync_dir=False)

    # -- reading --------------------------------------------------------------------------------------
    def creations(self, user: str, known: set[str]) -> list[str] | None:
        """When ``user`` created each document, if the index knows exactly the documents ``known``
        (every id with metadata or an audit trail); None when it does not (the caller then takes
        the checked path, :meth:`rows`, which rebuilds what is stale).  Creations never change, so
        which documents exist is all that is checked: a set comparison, no per-document work."""
        try:
            names = self.safe.listdir(self.folder)
        except UnsafePath:
            return None
        seen: set[str] = set()
        stamps: list[str] = []
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            rows = self.load(name[: -len(".json")])
            if rows is None:
                return None
            seen.update(rows)
            stamps += [r.created for r in rows.values() if r.creator == user and r.created]
        return stamps if seen == known else None

    def rows(
        self,
        listed: Iterable[str],
        cancelled: Iterable[str] | None,
        rebuild_row: Callable[[str], Row],
        *,
        lock: Callable[[str], contextlib.AbstractContextManager[None]],
        check_sigs: bool = True,
    ) -> dict[str, Row]:
        """A fresh row for every listed document (valid ids whose metadata file exists) and, unless
        ``cancelled`` is None, for every cancelled one (an audit trail without metadata).  A shard
        that is missing, unreadable, lists other documents, or whose signatures differ from the files
        is rebuilt with ``rebuild_row`` (which reads the files); a document that cannot be read is
        never cached, so its shard is rebuilt on every read until it can."""
        by_shard: dict[str, dict[str, bool]] = {}
        for text in listed:
            by_shard.setdefault(shard_of_text(text), {})[text] = True
        for text in cancelled or ():
            by_shard.setdefault(shard_of_text(text), {})[text] = False
        found: dict[str, Row] = {}
        with Folders(self.safe, self.layout) as folders:
            for shard, docs in by_shard.items():
                rows = self.load(shard)
                check = folders if check_sigs else None
                if rows is not None and _fresh(rows, docs, check, check_cancelled=cancelled is not None):
                    found.update({text: rows[text] for text in docs})
                    continue
                rebuilt = {text: rebuild_row(text) for text in docs}
                keep = {t: r for t, r in rebuilt.items() if r.sig is not None or r.view is None}
                if cancelled is None and rows is not None:  # keep the cancelled rows not looked at
                    keep.update({t: r for t, r in rows.items() if r.view is None and t not in keep})
                with lock(f"index-{shard}"):
                    self.store(shard, keep)
                found.update(rebuilt)
        return found


def kind_of_text(text: str) -> str:
    """The metadata folder of an id already validated (``VAR`` for a variance)."""
    return "VAR" if "-VAR-" in text else text.split("-", 1)[0]


def shard_of_text(text: str) -> str:
    """:func:`shard_of` for an id already validated (``id_names``), without parsing it again."""
    top = text.split("-VAR-", 1)[0]
    kind, number = top.split("-", 1)
    return f"{kind}-{int(number) // BLOCK}"


def _fresh(
    rows: Mapping[str, Row], docs: Mapping[str, bool], folders: Folders | None, *, check_cancelled: bool
) -> bool:
    live = sum(1 for row in rows.values() if row.view is not None)
    if live != sum(docs.values()):
        return False
    if check_cancelled and len(rows) != len(docs):
        return False
    for text, has_meta in docs.items():
        row = rows.get(text)
        if row is None or (row.view is not None) != has_meta:
            return False
        if not has_meta:
            continue
        if row.sig is None or (folders is not None and row.sig != folders.meta_signature(text)):
            return False
    return True


class Folders(contextlib.ExitStack):
    """The metadata folders opened once (safely) for many ``stat`` calls in one read."""

    def fd(self, kind: str) -> int | None:
        """The open ``QMS/.meta/<kind>`` folder (None: absent or reached only through a link)."""
        if kind not in self.fds:
            try:
                self.fds[kind] = self.enter_context(self.safe.directory((*self.base, kind)))
            except UnsafePath:
                self.fds[kind] = None
        return self.fds[kind]

    def __init__(self, safe: SafeRoot, layout: Layout) -> None:
        super().__init__()
        self.safe = safe
        self.base = safe.parts(layout.qms / ".meta")
        self.fds: dict[str, int | None] = {}

    def meta_signature(self, text: str) -> Signature:
        fd = self.fd(kind_of_text(text))
        return None if fd is None else _signature(f"{text}.json", fd)


def _signature(name: str, folder: int) -> Signature:
    """The signature of the regular file ``name`` in the open ``folder`` (None: absent or not a
    regular file — a link is never followed)."""
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def unchanged(checks: Iterable[tuple[str, tuple[int, int, int, int]]], folder: int) -> bool:
    """Whether every file named in ``checks`` (in the open ``folder``) is a regular file with the
    signature given: :func:`_signature` compared for each, in one tight loop (thousands per read)."""
    lstat, regular = os.stat, stat.S_ISREG
    try:
        for name, sig in checks:
            info = lstat(name, dir_fd=folder, follow_symlinks=False)
            if (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns) != sig or not regular(
                info.st_mode
            ):
                return False
    except FileNotFoundError:
        return False
    return True
