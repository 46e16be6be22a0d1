"""The fault server speaks Streamable HTTP correctly when no fault fires (driven without sockets)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from agentdock.harness.http.journal import Journal

pytestmark = pytest.mark.anyio


async def test_initialize_negotiates_the_version_and_issues_a_session(harness: Any) -> None:
    h = harness()
    played = await h.initialize("2025-03-26")
    result = played.messages[0]["result"]
    assert result["protocolVersion"] == "2025-03-26" and result["serverInfo"]["name"] == "agentdock-faults"
    assert h.session and len(h.session) == 32
    unknown = await harness().initialize("1999-01-01")
    assert unknown.messages[0]["result"]["protocolVersion"] == "2025-11-25"


async def test_requests_without_a_bearer_token_get_401_and_are_journaled(harness: Any) -> None:
    h = harness()
    played = await h.rpc("ping", headers={"authorization": "Bearer wrong"})
    assert played.status == 401 and "Bearer" in played.headers["www-authenticate"]
    assert h.app.journal.requests[-1].status == 401


async def test_session_rules_missing_is_400_unknown_is_404(harness: Any) -> None:
    h = harness()
    assert (await h.rpc("ping")).status == 400
    h.session = "not-a-session"
    played = await h.rpc("ping")
    assert played.status == 404 and played.json()["error"]["code"] == -32001


async def test_accept_and_content_type_are_checked(harness: Any) -> None:
    h = harness()
    await h.initialize()
    assert (await h.rpc("ping", headers={"accept": "application/json"})).status == 406
    assert (await h.rpc("ping", headers={"content-type": "text/plain"})).status == 415
    assert (await h.rpc("ping", headers={"mcp-protocol-version": "2000-01-01"})).status == 400


async def test_bad_json_is_a_parse_error_and_a_non_message_is_invalid_request(harness: Any) -> None:
    h = harness()
    await h.initialize()
    parse = await h.http("POST", b"{nope", h.headers())
    assert parse.status == 400 and parse.json()["error"]["code"] == -32700
    invalid = await h.http("POST", b'{"jsonrpc": "1.0"}', h.headers())
    assert invalid.status == 400 and invalid.json()["error"]["code"] == -32600


async def test_notifications_get_202_get_is_405_and_delete_ends_the_session(harness: Any) -> None:
    h = harness()
    await h.initialize()
    assert (await h.notify("notifications/progress")).status == 202
    get = await h.http("GET", b"", h.headers())
    assert get.status == 405 and "POST" in get.headers["allow"]
    assert (await h.http("DELETE", b"", h.headers())).status == 200
    assert (await h.rpc("ping")).status == 404


async def test_tools_list_and_unknown_methods(harness: Any) -> None:
    h = harness()
    await h.initialize()
    tools = (await h.rpc("tools/list")).messages[0]["result"]["tools"]
    assert [t["name"] for t in tools] == ["echo", "add", "record", "big", "fail", "sleep"]
    missing = (await h.rpc("resources/list")).messages[0]
    assert missing["error"]["code"] == -32601


async def test_tools_answer_deterministically_and_fail_as_tool_errors(harness: Any) -> None:
    h = harness()
    await h.initialize()
    add = (await h.call("add", {"a": 2, "b": 3})).messages[0]["result"]
    assert add["content"][0]["text"] == "5.0" and add["isError"] is False
    big = (await h.call("big", {"size_bytes": 5000})).messages[0]["result"]
    assert big["content"][0]["text"] == "x" * 5000
    fail = (await h.call("fail", {"message": "no"})).messages[0]["result"]
    assert fail["isError"] is True and fail["content"][0]["text"] == "no"
    slept = await h.call("sleep", {"delay_ms": 20})
    assert slept.sleeps == [0.02]


async def test_an_idempotency_key_seen_before_returns_the_stored_result_without_running_again(
    harness: Any,
) -> None:
    h = harness([{"kind": "restart", "match": {"method": "tools/call", "times": 1}}])
    await h.initialize()
    assert (await h.call(headers={"idempotency-key": "k1"})).status == 404  # restarted: nothing ran
    await h.initialize()
    first = await h.call(headers={"idempotency-key": "k1"})
    again = await h.call(headers={"idempotency-key": "k1"})
    assert first.messages[0]["result"] == again.messages[0]["result"]
    assert (first.messages[0]["id"], again.messages[0]["id"]) == (4, 5)  # re-addressed to the new id
    assert h.app.journal.executions_of("record") == 1
    assert [r.tool_outcome for r in h.app.journal.requests if r.rpc_method == "tools/call"] == [
        "",
        "executed",
        "deduplicated",
    ]
    await h.call(headers={"idempotency-key": "k2"})
    assert h.app.journal.executions_of("record") == 2


async def test_a_batch_gets_a_batch_answer(harness: Any) -> None:
    h = harness(default_mode="json")
    await h.initialize()
    batch = [
        {"jsonrpc": "2.0", "id": 10, "method": "ping"},
        {"jsonrpc": "2.0", "id": 11, "method": "tools/list"},
    ]
    played = await h.http("POST", json.dumps(batch).encode(), h.headers())
    assert [m["id"] for m in played.json()] == [10, 11]


async def test_a_stateless_server_needs_no_session(harness: Any) -> None:
    h = harness(stateless=True)
    played = await h.initialize()
    assert "mcp-session-id" not in played.headers
    assert (await h.rpc("ping")).status == 200


async def test_the_journal_records_attempts_faults_and_keys(harness: Any) -> None:
    h = harness([{"kind": "refuse", "match": {"method": "tools/call", "attempt": 1}}])
    await h.initialize()
    await h.call(headers={"idempotency-key": "abc"})
    h._next_id -= 1  # resend the same request id: a retry
    await h.call(headers={"idempotency-key": "abc"})
    calls = [r for r in h.app.journal.requests if r.rpc_method == "tools/call"]
    assert [(r.attempt, r.faults, r.idempotency_key, r.handled) for r in calls] == [
        (1, ["refuse"], "abc", False),
        (2, [], "abc", True),
    ]
    lines = [json.loads(line) for line in h.app.journal.dumps().splitlines()]
    assert lines[-1]["execution"]["idempotency_key"] == "abc"


async def test_journal_wait_for_wakes_on_a_record_and_times_out_otherwise() -> None:
    journal = Journal()

    async def later() -> None:
        await anyio.sleep(0)
        journal.record_execution("record", {}, None, None)

    async with anyio.create_task_group() as tg:
        tg.start_soon(later)
        await journal.wait_for(lambda j: j.executions_of("record") == 1, timeout_s=5)
    with pytest.raises(TimeoutError):
        await journal.wait_for(lambda j: j.executions_of("record") == 2, timeout_s=0.01)
