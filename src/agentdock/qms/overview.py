"""``status`` of everything at 10,000 documents: what every read checks, and what it reuses.

Every read still lists the metadata folders and ``stat``\\ s every document's metadata file,
comparing each signature with its index row — the checks :meth:`~agentdock.qms.index.DocIndex.rows`
makes: a shard is believed only while it names exactly the documents found in the folders and every
row's signature is its file's.  A shard that fails any of them goes through
:meth:`~agentdock.qms.index.DocIndex.rows` itself, which rebuilds it from the files.

What a read no longer repeats is the work that follows from a shard file's bytes alone, kept in
memory per version of that file (its signature, compared on every read): parsing it, the file names
its rows stand for, the order of its ids, and the text lines of its rows.  The checks above are
set comparisons and one tight ``stat`` loop, so a read costs little more than the folder listing
and one ``stat`` per document; a write to a shard (by any process) changes its signature, and only
that shard is checked the long way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentdock.qms.ids import DocType, id_names
from agentdock.qms.index import DocIndex, Folders, Row, Signature, kind_of_text, shard_of_text, unchanged

__all__ = ["Overview"]

SUFFIX = ".json"

#: Text lines of views, in the order given (the caller's format, made printable).
Render = Callable[[list[dict[str, Any]]], str]


@dataclass(frozen=True)
class _Entry:
    """One shard file's version and what follows from its bytes alone."""

    sig: Signature
    names: frozenset[str]  # the metadata file names its live rows stand for
    checks: tuple[tuple[str, tuple[tuple[str, tuple[int, int, int, int]], ...]], ...]  # per folder
    views: tuple[dict[str, Any], ...]  # in id order
    text: str


class Overview:
    """The documents and text lines of ``status`` of everything, for one :class:`DocIndex`."""

    def __init__(self, index: DocIndex, render: Render) -> None:
        self.index = index
        self.render = render
        self._entries: dict[str, _Entry] = {}

    def documents(
        self,
        listing: Mapping[DocType, list[str]],
        rebuild_row: Callable[[str], Row],
        *,
        lock: Callable[[str], contextlib.AbstractContextManager[None]],
    ) -> tuple[list[dict[str, Any]], str]:
        """Every listed document's view in id order, and their text lines (``listing``: the names
        in each metadata folder, as :meth:`~agentdock.qms.storage.Storage.listing` gives them)."""
        entries = dict(self._entries)  # another thread may replace it meanwhile: read one version
        sigs = self.index.shard_signatures(entries)
        current = {shard: e for shard, e in entries.items() if e.sig is not None and sigs[shard] == e.sig}
        listed: set[str] = set()
        for names in listing.values():
            listed.update(names)
        known: set[str] = set()
        for entry in current.values():
            known |= entry.names
        # Documents the entries do not know (new, or in a shard whose file changed) and files they
        # expect that are gone: their shards take the checked path.
        docs: dict[str, set[str]] = {}
        ordered: dict[str, list[str]] = {}  # each shard's new documents, valid and in id order
        for text in id_names(list(listed - known), SUFFIX):
            shard = shard_of_text(text)
            docs.setdefault(shard, set()).add(text)
            ordered.setdefault(shard, []).append(text)
        dirty = set(docs)
        for name in known - listed:
            dirty.add(shard_of_text(name[: -len(SUFFIX)]))
        with Folders(self.index.safe, self.index.layout) as folders:
            for shard, entry in current.items():
                if shard in dirty:
                    continue
                for kind, checks in entry.checks:
                    fd = folders.fd(kind)
                    if fd is None or not unchanged(checks, fd):
                        dirty.add(shard)
                        break
        for shard in dirty:
            entry_or_none = current.get(shard)
            if entry_or_none is not None:
                docs.setdefault(shard, set()).update(n[: -len(SUFFIX)] for n in entry_or_none.names & listed)
        found = (
            self.index.rows(sorted(t for s in dirty for t in docs.get(s, ())), None, rebuild_row, lock=lock)
            if dirty
            else {}
        )
        kept = {shard: e for shard, e in current.items() if shard not in dirty}
        parts: dict[str, tuple[Iterable[dict[str, Any]], str]] = {
            shard: (e.views, e.text) for shard, e in kept.items()
        }
        for shard in dirty:
            texts = docs.get(shard, set())
            fresh = self._entry(
                shard, ordered.get(shard) if len(ordered.get(shard, ())) == len(texts) else None
            )
            if fresh is not None:
                kept[shard] = fresh
            if fresh is not None and _same(fresh, texts, found):
                parts[shard] = (fresh.views, fresh.text)  # this call checked it: no second render
                continue
            views = [
                v
                for t in id_names([f"{t}{SUFFIX}" for t in texts], SUFFIX)
                if (v := found[t].view) is not None
            ]
            parts[shard] = (views, self.render(views))
        self._entries = kept
        order = sorted(parts, key=_shard_key)
        views_out: list[dict[str, Any]] = []
        for shard in order:
            views_out.extend(parts[shard][0])
        return views_out, "\n".join(text for shard in order if (text := parts[shard][1]))

    def _entry(self, shard: str, checked: list[str] | None = None) -> _Entry | None:
        """The entry of the shard file as it is now, if every row is a believable one of this shard
        (a valid id of this shard; a live row with a signature): otherwise none, and the shard keeps
        taking the checked path.  ``checked``: ids already validated as this shard's, in id order
        (used as the order when the rows are exactly those)."""
        loaded = self.index.load_signed(shard)
        if loaded is None:
            return None
        sig, rows = loaded
        if checked is not None and len(checked) == len(rows) and rows.keys() == set(checked):
            order = checked
        else:
            order = id_names([f"{text}{SUFFIX}" for text in rows], SUFFIX)
            if len(order) != len(rows) or any(shard_of_text(text) != shard for text in order):
                return None
        live = [text for text in order if rows[text].view is not None]
        by_kind: dict[str, list[tuple[str, tuple[int, int, int, int]]]] = {}
        for text in live:
            row_sig = rows[text].sig
            if row_sig is None:
                return None
            by_kind.setdefault(kind_of_text(text), []).append((f"{text}{SUFFIX}", row_sig))
        views = [view for text in live if (view := rows[text].view) is not None]
        return _Entry(
            sig=sig,
            names=frozenset(f"{text}{SUFFIX}" for text in live),
            checks=tuple((kind, tuple(checks)) for kind, checks in by_kind.items()),
            views=tuple(views),
            text=self.render(views),
        )


def _same(entry: _Entry, texts: set[str], found: Mapping[str, Row]) -> bool:
    """Whether ``entry`` shows exactly the rows just checked for its shard (the documents listed,
    each with a live row of the same view)."""
    if len(entry.names) != len(texts) or len(entry.views) != len(texts):
        return False
    return all(
        f"{view['id']}{SUFFIX}" in entry.names
        and (row := found.get(view["id"])) is not None
        and row.view == view
        for view in entry.views
    )


def _shard_key(shard: str) -> tuple[str, int]:
    kind, block = shard.rsplit("-", 1)
    return kind, int(block)
