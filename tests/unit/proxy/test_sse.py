"""The SSE decoder follows the WHATWG event-stream rules, however the bytes are chunked."""

from __future__ import annotations

import pytest

from agentdock.proxy.sse import SSEDecoder, SSEEvent, SSEEventTooLarge


def decode_all(data: bytes, chunk: int | None = None) -> tuple[list[SSEEvent], SSEDecoder]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        events += decoder.feed(data[i : i + step])
    decoder.close()
    return events, decoder


STREAM = (
    "\ufeff: keep-alive comment\n"
    "event: message\n"
    "id: 7\n"
    "retry: 1500\n"
    'data: {"a":\n'
    "data:  1}\n"
    "\n"
    "data: caf\u00e9 \u2603\n"
    "\n"
).encode()


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_every_line_ending_style_decodes_to_the_same_events(newline: str) -> None:
    data = STREAM.decode().replace("\n", newline).encode()
    events, decoder = decode_all(data)
    assert [e.data for e in events] == ['{"a":\n 1}', "caf\u00e9 \u2603"]
    assert events[0].id == "7" and events[0].retry_ms == 1500
    assert decoder.last_event_id == "7"


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_an_event_split_at_every_byte_boundary_decodes_identically(newline: str) -> None:
    data = STREAM.decode().replace("\n", newline).encode()
    whole, _ = decode_all(data)
    for size in (1, 2, 3, 5, 7):
        split, _ = decode_all(data, chunk=size)
        assert split == whole


def test_crlf_split_across_chunks_is_one_line_end_not_two() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # The LF completing the CRLF must not count as the blank line that dispatches.
    assert decoder.feed(b"\ndata: b\r\n") == []
    assert decoder.feed(b"\r\n") == [SSEEvent(data="a\nb")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    events, _ = decode_all(b": ping\nfoo: bar\nnocolon\ndata: x\n\n")
    assert events == [SSEEvent(data="x")]


def test_a_field_without_colon_is_a_field_with_empty_value() -> None:
    events, _ = decode_all(b"data\ndata\n\n")
    assert events == [SSEEvent(data="\n")]


def test_only_one_space_after_the_colon_is_removed() -> None:
    events, _ = decode_all(b"data:  two spaces\ndata:none\n\n")
    assert events[0].data == " two spaces\nnone"


def test_an_id_only_event_is_not_dispatched_but_sets_the_last_event_id() -> None:
    events, decoder = decode_all(b"id: prime-1\ndata:\n\nid: prime-2\n\n")
    # "data:" with an empty value is an event with empty data; an id-only block is not an event.
    assert events == [SSEEvent(data="", id="prime-1")]
    assert decoder.last_event_id == "prime-2"


def test_the_event_id_is_sticky_and_an_id_containing_nul_is_ignored() -> None:
    events, _ = decode_all(b"id: 1\ndata: a\n\ndata: b\n\nid: bad\x00id\ndata: c\n\n")
    assert [e.id for e in events] == ["1", "1", "1"]


def test_retry_accepts_only_digits() -> None:
    _, decoder = decode_all(b"retry: 10x\n\nretry: 250\n\nretry: -1\n\n")
    assert decoder.retry_ms == 250


def test_the_byte_order_mark_is_stripped_only_at_the_start() -> None:
    events, _ = decode_all("\ufeffdata: a\n\ndata: \ufeffb\n\n".encode())
    assert [e.data for e in events] == ["a", "\ufeffb"]


def test_the_event_type_is_reported_and_resets_after_dispatch() -> None:
    events, _ = decode_all(b"event: ping\ndata: 1\n\ndata: 2\n\n")
    assert [(e.event, e.data) for e in events] == [("ping", "1"), ("message", "2")]


def test_an_unterminated_event_at_end_of_stream_is_dropped() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: complete\n\ndata: partial") == [SSEEvent(data="complete")]
    assert decoder.close() == []


def test_a_multibyte_character_split_across_chunks_survives() -> None:
    data = "data: \u2603\n\n".encode()
    split_inside_snowman = 8
    decoder = SSEDecoder()
    events = decoder.feed(data[:split_inside_snowman]) + decoder.feed(data[split_inside_snowman:])
    assert events == [SSEEvent(data="\u2603")]


def test_an_event_over_the_size_limit_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(SSEEventTooLarge):
        decoder.feed(b"data: " + b"x" * 200 + b"\n")


def test_a_one_mebibyte_event_in_small_chunks_is_reassembled() -> None:
    payload = b"y" * (1 << 20)
    events, _ = decode_all(b"data: " + payload + b"\n\n", chunk=4096)
    assert len(events) == 1 and len(events[0].data) == 1 << 20
