"""Properties of the proxy's byte-level parsers: how the bytes are chunked never changes what is read.

The example tests (test_sse.py, test_framing.py) pin the rules; these let hypothesis generate the
streams and, above all, the chunk boundaries: inside a CRLF pair, inside a multi-byte UTF-8
character or the byte-order mark, one byte at a time.  Bounded example counts; the ``ci`` profile
(tests/conftest.py) derandomizes them under ``CI=true``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentdock.proxy.framing import LineSplitter, OversizedLine, decode_line, encode_message
from agentdock.proxy.sse import SSEDecoder, SSEEvent

# --------------------------------------------------------------------------------------------
# helpers


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length; repeats give empty chunks)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, start = [], 0
    for point in [*points, len(data)]:
        chunks.append(data[start:point])
        start = point
    return chunks


# Text without line ends (what a single SSE field value or JSON string may hold on one line),
# including multi-byte characters and a few that look like syntax.
line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12
) | st.sampled_from(["", " ", ":", "  lead", "caf\u00e9 \u2603", "\U0001f600", "data: x", "\ufeff"])

cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


# --------------------------------------------------------------------------------------------
# SSE


@dataclass(frozen=True)
class EventSpec:
    data: list[str]
    event: str | None
    id: str | None
    retry: int | None
    comment: str | None


event_specs = st.builds(
    EventSpec,
    data=st.lists(line_text, max_size=3),
    event=st.none() | line_text.filter(lambda s: s != ""),
    id=st.none() | line_text.filter(lambda s: "\x00" not in s),
    retry=st.none() | st.integers(min_value=0, max_value=10**6),
    comment=st.none() | line_text,
)


def render_stream(events: list[EventSpec], newline: str, bom: bool) -> bytes:
    lines: list[str] = []
    for spec in events:
        if spec.comment is not None:
            lines.append(":" + spec.comment)
        if spec.event is not None:
            lines.append("event: " + spec.event)
        if spec.id is not None:
            lines.append("id: " + spec.id)
        if spec.retry is not None:
            lines.append(f"retry: {spec.retry}")
        lines += ["data: " + d for d in spec.data]
        lines.append("")  # the blank line that dispatches
    return (("\ufeff" if bom else "") + newline.join(lines) + newline).encode("utf-8")


def expected_events(events: list[EventSpec]) -> list[SSEEvent]:
    """What the WHATWG rules dispatch: events with data; id and retry stick across events."""
    out: list[SSEEvent] = []
    last_id: str | None = None
    retry: int | None = None
    for spec in events:
        if spec.id is not None:
            last_id = spec.id
        if spec.retry is not None:
            retry = spec.retry
        if spec.data:
            out.append(SSEEvent("\n".join(spec.data), spec.event or "message", last_id, retry))
    return out


def decode_chunks(chunks: list[bytes]) -> tuple[list[SSEEvent], SSEDecoder]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    decoder.close()
    return events, decoder


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(event_specs, max_size=6),
    newline=st.sampled_from(["\n", "\r", "\r\n"]),
    bom=st.booleans(),
    cuts=cuts,
)
def test_any_chunking_of_a_valid_event_stream_yields_its_events(
    events: list[EventSpec], newline: str, bom: bool, cuts: list[int]
) -> None:
    data = render_stream(events, newline, bom)
    got, decoder = decode_chunks(split_at(data, cuts))
    want = expected_events(events)
    assert got == want
    assert decoder.last_event_id == next((e.id for e in reversed(events) if e.id is not None), None)


@settings(max_examples=150, deadline=None)
@given(events=st.lists(event_specs, min_size=1, max_size=4), newline=st.sampled_from(["\n", "\r", "\r\n"]))
def test_a_stream_fed_one_byte_at_a_time_decodes_like_the_whole(
    events: list[EventSpec], newline: str
) -> None:
    data = render_stream(events, newline, bom=True)
    assert decode_chunks([data[i : i + 1] for i in range(len(data))])[0] == decode_chunks([data])[0]


# --------------------------------------------------------------------------------------------
# stdin framing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10) | line_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
messages = st.builds(
    lambda i, method, params: {"jsonrpc": "2.0", "id": i, "method": method, "params": params},
    st.integers(min_value=0, max_value=2**31) | st.text(min_size=1, max_size=8),
    st.text(min_size=1, max_size=12),
    st.dictionaries(st.text(max_size=6), json_values, max_size=3),
)


def split_lines(chunks: list[bytes], max_line_bytes: int | None = None) -> list[object]:
    splitter = LineSplitter(max_line_bytes)
    lines: list[object] = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    return lines + splitter.close()


@settings(max_examples=120, deadline=None)
@given(
    batch=st.lists(messages, max_size=6),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    blank_lines=st.booleans(),
    cuts=cuts,
)
def test_any_byte_split_of_stdin_lines_yields_the_same_messages(
    batch: list[dict[str, object]], newline: bytes, blank_lines: bool, cuts: list[int]
) -> None:
    lines = [encode_message(m) for m in batch]
    if blank_lines:
        lines = [x for line in lines for x in (line, b"")]
    data = b"".join(line + newline for line in lines)
    decoded = [decode_line(line) for line in split_lines(split_at(data, cuts))]  # type: ignore[arg-type]
    got = [d.message for d in decoded if d is not None]
    assert got == json.loads(json.dumps(batch))  # JSON's view of the same values
    assert all(d is None or d.error is None for d in decoded)


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=6),
    cap=st.integers(min_value=1, max_value=24),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    cuts=cuts,
)
@example(sizes=[8], cap=8, newline=b"\r\n", cuts=[])  # a line exactly at the cap, CRLF-terminated
def test_a_line_is_refused_exactly_when_its_content_passes_the_cap_however_it_is_chunked(
    sizes: list[int], cap: int, newline: bytes, cuts: list[int]
) -> None:
    lines = [bytes([0x61 + i % 26]) * size for i, size in enumerate(sizes)]
    data = b"".join(line + newline for line in lines)
    got = split_lines(split_at(data, cuts), max_line_bytes=cap)
    want_kinds = ["over" if len(line) > cap else line for line in lines]
    got_kinds = ["over" if isinstance(x, OversizedLine) else x for x in got]
    assert got_kinds == want_kinds
    for line, item in zip(lines, got, strict=True):
        if isinstance(item, OversizedLine):
            assert line.startswith(item.head) and item.size > cap and item.limit == cap
