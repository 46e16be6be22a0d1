"""Seven agents, fifty mixed operations each, all at once through one qms-mcp HTTP server.

Afterwards: ids are unique and dense, every operation a client saw succeed is in
the audit trail exactly once, and each document's metadata matches its trail.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from agentdock import paths
from agentdock.qms.process import ServerProcess
from agentdock.qms.service import Qms

OPS_PER_AGENT = 50
REVIEWERS = ("tu_ui", "tu_scene", "tu_sketch", "tu_sim", "bu")
EVENT_OF = {
    "qms_create": "CREATE",
    "qms_checkin": "CHECKIN",
    "qms_route": "ROUTE_REVIEW",
    "qms_assign": "ASSIGN",
    "qms_review": "REVIEW",
}


class Agent:
    def __init__(
        self, name: str, client: Client, log: list[tuple[str, str, str]], refusals: list[str]
    ) -> None:
        self.name, self.client, self.log, self.refusals = name, client, log, refusals
        self.budget = OPS_PER_AGENT

    async def call(self, tool: str, **args: Any) -> dict[str, Any] | None:
        if self.budget <= 0:
            return None
        self.budget -= 1
        result = await self.client.call_tool(tool, args)
        if result.is_error:
            self.refusals.append(f"{self.name} {tool} {args}: {result.structured_content}")
            return None
        data = dict(result.structured_content or {})
        if tool in EVENT_OF:
            self.log.append((data.get("id", args.get("doc_id", "")), tool, self.name))
        return data


async def author(agent: Agent, root: Path, lane: int) -> None:
    n = 0
    while agent.budget >= 3:
        created = await agent.call(
            "qms_create", doc_type="SOP" if (lane + n) % 2 else "CR", title=f"doc {lane}-{n}"
        )
        n += 1
        if created is None:
            continue
        doc = created["id"]
        workspace = paths.agent_workspace_dir(root, agent.name) / f"{doc}.md"
        workspace.write_text(f"---\ntitle: doc {doc}\nrevision_summary: first\n---\nbody\n")
        if await agent.call("qms_checkin", doc_id=doc) is not None:
            await agent.call("qms_route", doc_id=doc, workflow="review")
    while agent.budget > 0 and lane == 0:
        await agent.call("qms_status")


async def quality(agent: Agent, rng: random.Random) -> None:
    assigned: set[str] = set()
    while agent.budget > 0:
        inbox = await agent.call("qms_inbox")
        for task in (inbox or {}).get("tasks", []):
            doc = task["doc_id"]
            if doc not in assigned:
                assigned.add(doc)
                await agent.call("qms_assign", doc_id=doc, assignees=[rng.choice(REVIEWERS)])
            await agent.call("qms_review", doc_id=doc, outcome="recommend", comment=f"qa on {doc}")
        await anyio.sleep(0)


async def reviewer(agent: Agent) -> None:
    while agent.budget > 0:
        inbox = await agent.call("qms_inbox")
        tasks = (inbox or {}).get("tasks", [])
        for task in tasks:
            await agent.call("qms_review", doc_id=task["doc_id"], outcome="recommend")
        if not tasks:
            await agent.call("qms_status")


@pytest.mark.anyio
async def test_seven_agents_fifty_operations_each_lose_nothing_and_duplicate_no_id(
    stateful_server: ServerProcess, project: Path, connect: Any
) -> None:
    log: list[tuple[str, str, str]] = []
    refusals: list[str] = []
    rng = random.Random(7)
    with anyio.fail_after(300):
        async with (
            connect(stateful_server.url, "claude") as claude_client,
            connect(stateful_server.url, "qa") as qa_client,
        ):
            reviewer_clients = {}
            async with anyio.create_task_group() as outer:
                # Open the reviewers' sessions inside the task group so all seven run concurrently.
                async def run_reviewer(name: str) -> None:
                    async with connect(stateful_server.url, name) as client:
                        reviewer_clients[name] = client
                        await reviewer(Agent(name, client, log, refusals))

                claude = Agent("claude", claude_client, log, refusals)
                for lane in range(4):
                    outer.start_soon(author, claude, project, lane)
                outer.start_soon(quality, Agent("qa", qa_client, log, refusals), rng)
                for name in REVIEWERS:
                    outer.start_soon(run_reviewer, name)
            assert claude.budget <= 2

    assert refusals == []
    qms = Qms(project)
    created = [doc for doc, tool, _ in log if tool == "qms_create"]
    assert len(created) == len(set(created)), "a document id was handed out twice"
    for prefix in ("SOP", "CR"):
        ids = sorted(d for d in created if d.startswith(prefix + "-"))
        assert ids == [f"{prefix}-{n:03d}" for n in range(1, len(ids) + 1)]
        on_disk = sorted(p.stem for p in (project / "QMS" / ".meta" / prefix).glob("*.json"))
        assert on_disk == ids
    expected = Counter((doc, EVENT_OF[tool], user) for doc, tool, user in log)
    for doc in created:
        events = qms.history("qa", doc).data["events"]
        meta = qms.status("qa", doc).data
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert meta["audit_seq"] == len(events)
        actual = Counter((doc, e["event"], e["user"]) for e in events if e["event"] in EVENT_OF.values())
        wanted = Counter({k: v for k, v in expected.items() if k[0] == doc})
        assert actual == wanted, f"{doc}: audit {actual} != operations clients saw succeed {wanted}"
        reviewed = {user for d, tool, user in log if d == doc and tool == "qms_review"}
        assert set(meta["review_outcomes"]) == reviewed
        routed = any(d == doc and tool == "qms_route" for d, tool, _ in log)
        if routed:
            assert (meta["status"] in ("REVIEWED", "PRE_REVIEWED")) == (not meta["pending_assignees"])
            assert not reviewed & set(meta["pending_assignees"])
    total = len(log)
    print(f"concurrency: {len(created)} documents, {total} successful mutations")
    assert total > 60 and len({u for _, t, u in log if t == "qms_review"}) >= 3
