"""Every fault kind of the fault MCP server, driven through the ASGI app without a socket.

Each test initialises a session, sends the faulted request, and checks what
went on the wire (status, headers, the exact framing, pauses, where the
connection was cut) and whether the tool really ran (the journal).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentdock.harness.http.kinds import FAULT_KINDS
from agentdock.harness.http.model import FAULTS

pytestmark = pytest.mark.anyio

ON_CALL = {"method": "tools/call"}


def fault(kind: str, **settings: Any) -> dict[str, Any]:
    return {"kind": kind, "match": ON_CALL, **settings}


def response_of(messages: list[Any], request_id: int) -> list[Any]:
    return [m for m in messages if isinstance(m, dict) and m.get("id") == request_id and "result" in m]


def text_of(message: dict[str, Any]) -> str:
    return str(message["result"]["content"][0]["text"])


def test_every_registered_kind_is_listed_and_there_are_at_least_30() -> None:
    assert set(FAULT_KINDS) == set(FAULTS)
    assert len(FAULT_KINDS) >= 30


async def test_without_faults_a_tool_call_answers_one_sse_event_and_runs_once(harness: Any) -> None:
    h = harness()
    await h.initialize()
    played = await h.call()
    assert played.status == 200 and played.headers["content-type"] == "text/event-stream"
    assert [text_of(m) for m in response_of(played.messages, 2)] == ["recorded t1"]
    assert played.ended and played.abort is None
    assert h.app.journal.executions_of("record") == 1


# -- connection cut-offs ------------------------------------------------------------------------------


async def test_refuse_resets_before_headers_and_never_runs_the_tool(harness: Any) -> None:
    h = harness([fault("refuse")])
    await h.initialize()
    played = await h.call()
    assert not played.started and played.abort == {"type": "agentdock.abort", "rst": True}
    assert h.app.journal.executions_of("record") == 0
    assert h.app.journal.requests[-1].handled is False


async def test_close_before_headers_runs_the_tool_then_closes_without_a_response(harness: Any) -> None:
    h = harness([fault("close_before_headers")])
    await h.initialize()
    played = await h.call()
    assert not played.started and played.abort == {"type": "agentdock.abort", "rst": False}
    assert h.app.journal.executions_of("record") == 1


async def test_close_after_headers_sends_status_then_cuts_before_any_body(harness: Any) -> None:
    h = harness([fault("close_after_headers", rst=True)])
    await h.initialize()
    played = await h.call()
    assert played.status == 200 and played.body == b""
    assert played.abort == {"type": "agentdock.abort", "rst": True} and not played.ended


async def test_drop_before_response_sends_a_notification_then_breaks_the_stream(harness: Any) -> None:
    h = harness([fault("drop_before_response")])
    await h.initialize()
    played = await h.call()
    assert [m["method"] for m in played.messages] == ["notifications/message"]
    assert played.abort is not None and not played.ended
    assert h.app.journal.executions_of("record") == 1


async def test_drop_after_response_delivers_the_response_then_breaks_instead_of_ending(harness: Any) -> None:
    h = harness([fault("drop_after_response")])
    await h.initialize()
    played = await h.call()
    assert [text_of(m) for m in response_of(played.messages, 2)] == ["recorded t1"]
    assert played.abort is not None and not played.ended


async def test_truncated_body_sends_less_than_its_content_length(harness: Any) -> None:
    h = harness([fault("truncated_body")])
    await h.initialize()
    played = await h.call()
    assert played.headers["content-type"] == "application/json"
    assert 0 < len(played.body) < int(played.headers["content-length"])
    assert played.abort is not None


# -- pacing -------------------------------------------------------------------------------------------------


async def test_delay_headers_sleeps_before_the_status_line(harness: Any) -> None:
    h = harness([fault("delay_headers", delay_ms=1500)])
    await h.initialize()
    played = await h.call()
    kinds = [kind for kind, _ in played.timeline]
    assert played.timeline[0] == ("sleep", 1.5) and kinds.index("sleep") < kinds.index("send")
    assert response_of(played.messages, 2)


async def test_delay_headers_jitter_is_drawn_from_the_seed(harness: Any) -> None:
    async def first_sleep(seed: int) -> float:
        h = harness([fault("delay_headers", delay_ms=1000, jitter_ms=500)], seed=seed)
        await h.initialize()
        return (await h.call()).sleeps[0]

    a, b, c = await first_sleep(1), await first_sleep(1), await first_sleep(2)
    assert a == b and a != c and 0.5 <= a <= 1.5


async def test_delay_events_pauses_before_every_event(harness: Any) -> None:
    h = harness([fault("delay_events", delay_ms=250), fault("interleave")])
    await h.initialize()
    played = await h.call()
    assert played.sleeps == [0.25] * len(played.events) and len(played.events) == 4


async def test_trickle_sends_small_chunks_with_pauses_and_the_same_bytes(harness: Any) -> None:
    h = harness([fault("trickle", chunk_bytes=10, delay_ms=3)])
    await h.initialize()
    played = await h.call()
    assert all(len(c) <= 10 for c in played.chunks) and len(played.chunks) > 5
    assert played.sleeps == [0.003] * (len(played.chunks) - 1)
    assert [text_of(m) for m in response_of(played.messages, 2)] == ["recorded t1"]


async def test_split_bytes_sends_every_byte_alone_and_the_event_still_parses(harness: Any) -> None:
    h = harness([fault("split_bytes")])
    await h.initialize()
    played = await h.call()
    assert {len(c) for c in played.chunks} == {1}
    assert [text_of(m) for m in response_of(played.messages, 2)] == ["recorded t1"]


# -- statuses ---------------------------------------------------------------------------------------------------

STATUSES = [400, 401, 403, 404, 405, 406, 413, 429, 500, 502, 503, 504]


@pytest.mark.parametrize("body", ["json", "html"])
@pytest.mark.parametrize("status", STATUSES)
async def test_status_answers_the_code_with_the_body_kind_and_skips_the_tool(
    harness: Any, status: int, body: str
) -> None:
    h = harness([fault("status", status=status, body=body)])
    await h.initialize()
    played = await h.call()
    assert played.status == status and played.ended
    assert int(played.headers["content-length"]) == len(played.body)
    if body == "json":
        assert played.headers["content-type"] == "application/json"
        assert played.json()["error"]["data"]["status"] == status
    else:
        assert played.headers["content-type"].startswith("text/html")
        assert played.body.startswith(b"<!DOCTYPE html>") and str(status).encode() in played.body
    assert h.app.journal.executions_of("record") == 0


async def test_status_with_execute_runs_the_tool_and_still_answers_the_error(harness: Any) -> None:
    h = harness([fault("status", status=502, execute=True, body="text", retry_after_s=2)])
    await h.initialize()
    played = await h.call()
    assert played.status == 502 and played.headers["retry-after"] == "2"
    assert played.headers["content-type"].startswith("text/plain")
    assert h.app.journal.executions_of("record") == 1


async def test_status_401_names_the_bearer_scheme(harness: Any) -> None:
    h = harness([fault("status", status=401, body="empty")])
    await h.initialize()
    played = await h.call()
    assert played.status == 401 and played.body == b"" and "Bearer" in played.headers["www-authenticate"]
    assert "content-type" not in played.headers


async def test_rate_limit_answers_429_with_retry_after(harness: Any) -> None:
    h = harness([fault("rate_limit", retry_after_s=3)])
    await h.initialize()
    played = await h.call()
    assert played.status == 429 and played.headers["retry-after"] == "3"
    assert h.app.journal.executions_of("record") == 0


async def test_session_expired_gives_404_until_the_client_initialises_again(harness: Any) -> None:
    h = harness([{"kind": "session_expired", "match": {"method": "tools/call", "nth": 1}}])
    await h.initialize()
    assert (await h.call()).status == 404
    assert (await h.rpc("ping")).status == 404  # the session stays gone
    await h.initialize()
    played = await h.call()
    assert played.status == 200 and response_of(played.messages, played.messages[0]["id"])
    assert h.app.journal.executions_of("record") == 1


async def test_restart_loses_every_session_not_just_the_callers(harness: Any) -> None:
    h = harness([{"kind": "restart", "match": {"method": "tools/call", "times": 1}}])
    await h.initialize()
    other = h.session
    await h.initialize()
    assert (await h.call()).status == 404
    h.session = other
    assert (await h.rpc("ping")).status == 404
    assert h.app.journal.executions_of("record") == 0


# -- response mode and content type --------------------------------------------------------------------------------


async def test_json_response_answers_a_single_json_object(harness: Any) -> None:
    h = harness([fault("json_response")])
    await h.initialize()
    played = await h.call()
    assert played.headers["content-type"] == "application/json"
    assert text_of(played.json()) == "recorded t1"


async def test_sse_response_streams_even_when_the_server_prefers_json(harness: Any) -> None:
    h = harness([fault("sse_response")], default_mode="json")
    await h.initialize()
    assert (await h.rpc("ping")).headers["content-type"] == "application/json"
    played = await h.call()
    assert played.headers["content-type"] == "text/event-stream" and response_of(played.messages, 3)


async def test_wrong_content_type_labels_the_body_as_something_else(harness: Any) -> None:
    h = harness([fault("wrong_content_type", content_type="text/html")])
    await h.initialize()
    played = await h.call()
    assert played.headers["content-type"] == "text/html" and played.body.startswith(b"event: message")


async def test_missing_content_type_sends_no_content_type(harness: Any) -> None:
    h = harness([fault("missing_content_type")])
    await h.initialize()
    played = await h.call()
    assert "content-type" not in played.headers and response_of(played.messages, 2)


# -- SSE framing --------------------------------------------------------------------------------------------------


async def test_sse_crlf_ends_every_line_in_crlf(harness: Any) -> None:
    h = harness([fault("sse_crlf")])
    await h.initialize()
    played = await h.call()
    assert played.body.count(b"\r\n") == played.body.count(b"\n") > 0
    assert response_of(played.messages, 2)


async def test_sse_cr_ends_every_line_in_a_bare_cr(harness: Any) -> None:
    h = harness([fault("sse_cr")])
    await h.initialize()
    played = await h.call()
    assert b"\n" not in played.body and played.body.count(b"\r") >= 3
    assert response_of(played.messages, 2)


async def test_sse_multiline_data_spreads_one_message_over_many_data_lines(harness: Any) -> None:
    h = harness([fault("sse_multiline_data")])
    await h.initialize()
    played = await h.call()
    assert played.body.count(b"data: ") > 5
    assert [text_of(m) for m in response_of(played.messages, 2)] == ["recorded t1"]


async def test_sse_comments_puts_keepalives_and_unknown_fields_between_events(harness: Any) -> None:
    h = harness([fault("sse_comments")])
    await h.initialize()
    played = await h.call()
    assert b": keep-alive\n" in played.body and b"x-agentdock-unknown-field:" in played.body
    assert response_of(played.messages, 2)


async def test_sse_bom_starts_the_stream_with_a_byte_order_mark(harness: Any) -> None:
    h = harness([fault("sse_bom")])
    await h.initialize()
    played = await h.call()
    assert played.body.startswith("\ufeff".encode()) and response_of(played.messages, 2)


async def test_sse_retry_sends_a_retry_field_and_event_ids(harness: Any) -> None:
    h = harness([fault("sse_retry", retry_ms=777), fault("duplicate_response")])
    await h.initialize()
    played = await h.call()
    assert [e.get("id") for e in played.events] == ["1", "2"]
    assert played.events[0]["retry"] == "777" and "retry" not in played.events[1]


async def test_huge_event_is_one_event_over_a_mebibyte_with_the_same_result(harness: Any) -> None:
    h = harness([fault("huge_event")])
    await h.initialize()
    played = await h.call()
    assert len(played.events) == 1 and len(played.events[0]["data"]) > 1024 * 1024
    assert [text_of(m) for m in response_of(played.messages, 2)] == ["recorded t1"]


# -- extra and malformed messages -------------------------------------------------------------------------------------


async def test_interleave_sends_a_server_request_and_notifications_before_the_response(harness: Any) -> None:
    h = harness([fault("interleave")], seed=5)
    await h.initialize()
    played = await h.call()
    first, ping, changed, last = played.messages
    assert (
        first["method"] == "notifications/message" and changed["method"] == "notifications/tools/list_changed"
    )
    assert ping["method"] == "ping" and str(ping["id"]).startswith("agentdock-srv-")
    assert text_of(last) == "recorded t1"
    reply = {"jsonrpc": "2.0", "id": ping["id"], "result": {}}
    accepted = await h.http("POST", json.dumps(reply).encode(), h.headers())
    assert accepted.status == 202 and h.app.journal.replies == [reply]


async def test_interleave_server_request_ids_follow_the_seed(harness: Any) -> None:
    async def ping_id(seed: int) -> str:
        h = harness([fault("interleave")], seed=seed)
        await h.initialize()
        return str((await h.call()).messages[1]["id"])

    assert await ping_id(11) == await ping_id(11) != await ping_id(12)


async def test_slow_progress_spaces_progress_notifications_for_the_callers_token(harness: Any) -> None:
    h = harness([fault("slow_progress", count=3, delay_ms=400)])
    await h.initialize()
    params = {"name": "record", "arguments": {"token": "t1"}, "_meta": {"progressToken": "tok"}}
    played = await h.rpc("tools/call", params)
    notes = played.messages[:-1]
    assert [n["params"]["progress"] for n in notes] == [1, 2, 3]
    assert {n["params"]["progressToken"] for n in notes} == {"tok"}
    assert played.sleeps == [0.4, 0.4, 0.4] and text_of(played.messages[-1]) == "recorded t1"


async def test_slow_progress_without_a_token_sends_log_messages(harness: Any) -> None:
    h = harness([fault("slow_progress", count=2, delay_ms=0)])
    await h.initialize()
    played = await h.call()
    assert [m.get("method") for m in played.messages[:-1]] == ["notifications/message"] * 2


async def test_duplicate_response_sends_the_response_event_twice(harness: Any) -> None:
    h = harness([fault("duplicate_response")])
    await h.initialize()
    played = await h.call()
    assert len(response_of(played.messages, 2)) == 2
    assert h.app.journal.executions_of("record") == 1


async def test_unknown_id_sends_a_stray_response_first(harness: Any) -> None:
    h = harness([fault("unknown_id")])
    await h.initialize()
    stray, real = (await h.call()).messages
    assert str(stray["id"]).startswith("agentdock-unknown-") and real["id"] == 2


async def test_invalid_json_event_precedes_the_response(harness: Any) -> None:
    h = harness([fault("invalid_json_event")])
    await h.initialize()
    bad, real = (await h.call()).messages
    assert isinstance(bad, str) and bad.startswith('{"jsonrpc"')
    assert text_of(real) == "recorded t1"


async def test_garble_replaces_the_json_body_after_the_tool_ran(harness: Any) -> None:
    h = harness([fault("garble")])
    await h.initialize()
    played = await h.call()
    assert played.headers["content-type"] == "application/json" and played.ended
    with pytest.raises(ValueError):
        json.loads(played.body)
    assert h.app.journal.executions_of("record") == 1


# -- streams that do not end ------------------------------------------------------------------------------------------


async def test_hang_opens_the_stream_and_never_answers_until_the_client_leaves(harness: Any) -> None:
    h = harness([fault("hang")])
    await h.initialize()
    played = await h.call()
    assert played.status == 200 and played.headers["content-type"] == "text/event-stream"
    assert played.body == b"" and not played.ended and played.abort is None


async def test_hang_with_keepalive_sends_comments_while_it_waits(harness: Any) -> None:
    h = harness([fault("hang", keepalive_ms=1)])
    await h.initialize()
    played = await h.call(disconnect_when=lambda p: len(p.chunks) >= 3)
    assert played.chunks[:3] == [b": keep-alive\n\n"] * 3 and played.events == []


async def test_linger_sends_the_response_and_keeps_the_stream_open(harness: Any) -> None:
    h = harness([fault("linger", keepalive_ms=1)])
    await h.initialize()
    played = await h.call(disconnect_when=lambda p: len(p.chunks) >= 2)
    assert [text_of(m) for m in response_of(played.messages, 2)] == ["recorded t1"]
    assert played.chunks[1] == b": keep-alive\n\n" and not played.ended
