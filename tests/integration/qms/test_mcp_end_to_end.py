"""Through the real SDK client and a real qms-mcp subprocess, with claude, qa and tu_ui as separate token holders."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from agentdock import paths
from agentdock.qms.process import ServerProcess, qms_server_process

EXPECTED_TOOLS = {
    "qms_inbox",
    "qms_workspace",
    "qms_status",
    "qms_read",
    "qms_history",
    "qms_comments",
    "qms_create",
    "qms_checkout",
    "qms_checkin",
    "qms_cancel",
    "qms_route",
    "qms_assign",
    "qms_review",
    "qms_approve",
    "qms_reject",
    "qms_withdraw",
    "qms_release",
    "qms_close",
}


async def ok(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    text = "".join(getattr(b, "text", "") for b in result.content)
    assert not result.is_error, f"{tool}{args} refused: {text}"
    assert result.structured_content is not None
    return dict(result.structured_content)


def inbox(root: Path, agent: str) -> list[str]:
    return sorted(p.name for p in paths.agent_inbox_dir(root, agent).glob("task-*.md"))


def edit(root: Path, agent: str, doc: str, body: str) -> None:
    path = paths.agent_workspace_dir(root, agent) / f"{doc}.md"
    title = path.read_text().split("title: ", 1)[1].split("\n", 1)[0]
    path.write_text(f"---\ntitle: {title}\nrevision_summary: {body}\n---\n{body}\n")


@pytest.mark.anyio
async def test_a_cr_reaches_closed_and_an_sop_reaches_effective_over_mcp(
    server: ServerProcess, project: Path, connect: Any
) -> None:
    with anyio.fail_after(120):
        async with (
            connect(server.url, "claude") as claude,
            connect(server.url, "qa") as qa,
            connect(server.url, "tu_ui") as tu_ui,
        ):
            assert {t.name for t in (await claude.list_tools()).tools} == EXPECTED_TOOLS

            # --- CR: create -> pre-approval -> execution -> post-approval -> CLOSED
            cr = (await ok(claude, "qms_create", doc_type="CR", title="Add a field"))["id"]
            assert cr == "CR-001"
            edit(project, "claude", cr, "plan")
            await ok(claude, "qms_checkin", doc_id=cr)
            assert (await ok(claude, "qms_route", doc_id=cr, workflow="review"))["status"] == "IN_PRE_REVIEW"
            assert inbox(project, "qa") == ["task-CR-001-pre_review-v0-1.md"]
            tasks = (await ok(qa, "qms_inbox"))["tasks"]
            assert [t["doc_id"] for t in tasks] == [cr] and tasks[0]["task_type"] == "REVIEW"
            await ok(qa, "qms_assign", doc_id=cr, assignees=["tu_ui"])
            assert inbox(project, "tu_ui") == ["task-CR-001-pre_review-v0-1.md"]
            await ok(qa, "qms_review", doc_id=cr, outcome="recommend")
            assert inbox(project, "qa") == []
            reviewed = await ok(tu_ui, "qms_review", doc_id=cr, outcome="recommend", comment="ok")
            assert reviewed["status"] == "PRE_REVIEWED" and inbox(project, "tu_ui") == []
            await ok(claude, "qms_route", doc_id=cr, workflow="approval")
            assert inbox(project, "qa") == ["task-CR-001-pre_approval-v0-1.md"]
            assert (await ok(qa, "qms_approve", doc_id=cr))["status"] == "PRE_APPROVED"
            assert inbox(project, "qa") == []
            assert (await ok(claude, "qms_release", doc_id=cr))["status"] == "IN_EXECUTION"
            await ok(claude, "qms_checkout", doc_id=cr)
            edit(project, "claude", cr, "executed")
            assert (await ok(claude, "qms_checkin", doc_id=cr))["version"] == "1.1"
            assert (await ok(claude, "qms_route", doc_id=cr, workflow="review"))["status"] == "IN_POST_REVIEW"
            await ok(qa, "qms_review", doc_id=cr, outcome="recommend")
            await ok(claude, "qms_route", doc_id=cr, workflow="approval")
            assert (await ok(qa, "qms_approve", doc_id=cr))["version"] == "2.0"
            assert (await ok(claude, "qms_close", doc_id=cr))["status"] == "CLOSED"

            # --- SOP: create -> review (with a reviewer asking for changes) -> EFFECTIVE
            sop = (await ok(claude, "qms_create", doc_type="SOP", title="Release procedure"))["id"]
            edit(project, "claude", sop, "draft")
            await ok(claude, "qms_checkin", doc_id=sop)
            await ok(claude, "qms_route", doc_id=sop, workflow="review")
            await ok(qa, "qms_assign", doc_id=sop, assignees=["tu_ui"])
            await ok(qa, "qms_review", doc_id=sop, outcome="recommend")
            await ok(tu_ui, "qms_review", doc_id=sop, outcome="request_updates", comment="name the owner")
            refused = await claude.call_tool("qms_route", {"doc_id": sop, "workflow": "approval"})
            assert refused.is_error and "workflow.route-approval.reviews" in "".join(
                getattr(b, "text", "") for b in refused.content
            )
            await ok(claude, "qms_checkout", doc_id=sop)
            edit(project, "claude", sop, "owner named")
            await ok(claude, "qms_checkin", doc_id=sop)
            await ok(claude, "qms_route", doc_id=sop, workflow="review")
            await ok(qa, "qms_review", doc_id=sop, outcome="recommend")
            await ok(claude, "qms_route", doc_id=sop, workflow="approval")
            done = await ok(qa, "qms_approve", doc_id=sop)
            assert (done["status"], done["version"]) == ("EFFECTIVE", "1.0")
            read = await ok(tu_ui, "qms_read", doc_id=sop)
            assert "owner named" in read["content"]
            comments = (await ok(claude, "qms_comments", doc_id=sop))["comments"]
            assert [(c["user"], c["comment"]) for c in comments] == [("tu_ui", "name the owner")]
            history = (await ok(tu_ui, "qms_history", doc_id=cr))["events"]
            assert {e["user"] for e in history} == {"claude", "qa", "tu_ui"}
            assert all(inbox(project, a) == [] for a in ("claude", "qa", "tu_ui"))


@pytest.mark.anyio
async def test_one_agents_token_cannot_act_on_another_agents_checkout(
    stateful_server: ServerProcess, project: Path, connect: Any
) -> None:
    with anyio.fail_after(60):
        async with connect(stateful_server.url, "claude") as claude, connect(stateful_server.url, "bu") as bu:
            doc = (await ok(claude, "qms_create", doc_type="SOP", title="Mine"))["id"]
            (paths.agent_workspace_dir(project, "bu") / f"{doc}.md").write_text(
                "---\ntitle: Hijacked\nrevision_summary: x\n---\nx\n"
            )
            result = await bu.call_tool("qms_checkin", {"doc_id": doc})
            assert result.is_error
            assert result.structured_content == {
                "error": f"only the document's owner (claude) may checkin {doc}",
                "rule": "permission.checkin",
            }
            created = await bu.call_tool("qms_create", {"doc_type": "SOP", "title": "not allowed"})
            assert created.is_error and "permission.create" in created.content[0].text  # type: ignore[union-attr]
            status = await ok(bu, "qms_status", doc_id=doc)
            assert (status["owner"], status["checked_out"], status["audit_seq"]) == ("claude", True, 2)


MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def initialize(http: httpx.Client, url: str) -> dict[str, str]:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    response = http.post(url, json=init, headers=MCP_HEADERS)
    response.raise_for_status()
    headers = dict(MCP_HEADERS)
    if "mcp-session-id" in response.headers:
        headers["mcp-session-id"] = response.headers["mcp-session-id"]
    headers["mcp-protocol-version"] = "2025-06-18"
    http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    return headers


def call(
    http: httpx.Client, url: str, headers: dict[str, str], tool: str, args: dict[str, Any], key: str
) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}
    response = http.post(url, json=body, headers={**headers, "idempotency-key": key})
    response.raise_for_status()
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])["result"]
    return response.json()["result"]


def test_a_repeated_idempotency_key_returns_the_original_result_and_applies_once(
    server: ServerProcess, project: Path, tokens: dict[str, str]
) -> None:
    with httpx.Client(headers={"authorization": f"Bearer {tokens['claude']}"}, timeout=30) as http:
        headers = initialize(http, server.url)
        first = call(http, server.url, headers, "qms_create", {"doc_type": "INV", "title": "Once"}, "key-1")
        again = call(http, server.url, headers, "qms_create", {"doc_type": "INV", "title": "Once"}, "key-1")
        other = call(http, server.url, headers, "qms_create", {"doc_type": "INV", "title": "Once"}, "key-2")
        clash = call(http, server.url, headers, "qms_create", {"doc_type": "INV", "title": "Twice"}, "key-1")
    assert first == again
    assert first["structuredContent"]["id"] == "INV-001"
    assert other["structuredContent"]["id"] == "INV-002"
    assert clash["isError"] is True and clash["structuredContent"]["rule"] == "idempotency"
    assert sorted(p.name for p in (project / "QMS" / ".meta" / "INV").glob("*.json")) == [
        "INV-001.json",
        "INV-002.json",
    ]


def test_http_requests_need_a_valid_token_and_an_allowed_host(
    server: ServerProcess, tokens: dict[str, str]
) -> None:
    with httpx.Client(timeout=30) as http:
        missing = http.post(server.url, json={}, headers=MCP_HEADERS)
        wrong = http.post(server.url, json={}, headers={**MCP_HEADERS, "authorization": "Bearer adk_wrong"})
        rebinding = http.post(
            server.url,
            json={},
            headers={**MCP_HEADERS, "authorization": f"Bearer {tokens['qa']}", "host": "attacker.example"},
        )
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert rebinding.status_code == 421


def test_malformed_ids_over_mcp_are_json_rpc_errors_naming_the_rule(
    stateful_server: ServerProcess, tokens: dict[str, str]
) -> None:
    with httpx.Client(headers={"authorization": f"Bearer {tokens['qa']}"}, timeout=30) as http:
        headers = initialize(http, stateful_server.url)
        body = {
            "jsonrpc": "2.0",
            "id": 9,
            "method": "tools/call",
            "params": {"name": "qms_read", "arguments": {"doc_id": "../../etc/passwd"}},
        }
        response = http.post(stateful_server.url, json=body, headers=headers)
    data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
    error = json.loads(data[-1])["error"]
    assert error["code"] == -32602 and "[id.format]" in error["message"]


def test_a_session_idle_past_its_lifetime_is_forgotten_and_a_new_one_works(
    project: Path, tokens: dict[str, str]
) -> None:
    """``--session-lifetime``: the next request of an idle session gets 404; a new initialize works."""
    tools_list = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    with (
        qms_server_process(project, extra_args=["--session-lifetime", "1"]) as server,
        httpx.Client(headers={"authorization": f"Bearer {tokens['claude']}"}, timeout=30) as http,
    ):
        headers = initialize(http, server.url)
        assert http.post(server.url, json=tools_list, headers=headers).status_code == 200
        deadline = time.monotonic() + 20
        status = 200
        while status == 200 and time.monotonic() < deadline:  # bounded: the idle reaper runs within ~1 s
            time.sleep(1.5)
            status = http.post(server.url, json=tools_list, headers=headers).status_code
        assert status == 404
        fresh = initialize(http, server.url)
        assert fresh["mcp-session-id"] != headers["mcp-session-id"]
        assert http.post(server.url, json=tools_list, headers=fresh).status_code == 200
