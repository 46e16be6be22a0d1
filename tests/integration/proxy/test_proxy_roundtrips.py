"""The SDK's stdio client, through the proxy subprocess, against a real MCPServer in every transport mode."""

from __future__ import annotations

from typing import Any

import anyio
import mcp.types as types
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CLIENT_MODES = ["legacy", "auto"]  # initialize handshake / 2026-07-28 discover


def text_of(result: types.CallToolResult) -> str:
    (content,) = result.content
    assert isinstance(content, types.TextContent)
    return content.text


@pytest.mark.parametrize("mode", CLIENT_MODES)
async def test_tools_resources_and_prompts_work_through_the_proxy(
    server: Any, proxy_client: Any, mode: str
) -> None:
    with anyio.fail_after(60):
        async with proxy_client.connect(server.url, mode=mode) as client:
            assert mode == "legacy" or client.protocol_version == "2026-07-28"
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"echo", "add", "slow", "big"} <= tools
            assert (
                text_of(await client.call_tool("echo", {"text": "h\u00e9llo\nworld"})) == "h\u00e9llo\nworld"
            )
            assert text_of(await client.call_tool("add", {"a": 2, "b": 40})) == "42"
            resources = await client.list_resources()
            assert [str(r.uri) for r in resources.resources] == ["test://static"]
            read = await client.read_resource("test://static")
            assert read.contents[0].text == "static resource text"  # type: ignore[union-attr]
            templated = await client.read_resource("test://item/kettle")
            assert templated.contents[0].text == "item kettle"  # type: ignore[union-attr]
            prompts = await client.list_prompts()
            assert [p.name for p in prompts.prompts] == ["greet"]
            prompt = await client.get_prompt("greet", {"name": "Ada"})
            assert "Ada" in prompt.messages[0].content.text  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", CLIENT_MODES)
async def test_progress_notifications_arrive_before_the_result(
    server: Any, proxy_client: Any, mode: str
) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    with anyio.fail_after(60):
        async with proxy_client.connect(server.url, mode=mode) as client:
            result = await client.call_tool("slow", {"steps": 4}, progress_callback=on_progress)
    assert text_of(result) == "done after 4 steps"
    # A JSON response carries only the result (the server drops progress in that mode); the
    # proxy must still deliver the result, and must not invent progress.
    assert seen == ([] if server.json_response else [1, 2, 3, 4])


@pytest.mark.parametrize("mode", CLIENT_MODES)
async def test_fifty_concurrent_tool_calls_each_get_their_own_answer(
    server: Any, proxy_client: Any, mode: str
) -> None:
    answers: dict[int, str] = {}
    with anyio.fail_after(120):
        async with proxy_client.connect(server.url, mode=mode) as client:

            async def call(i: int) -> None:
                answers[i] = text_of(await client.call_tool("echo", {"text": f"call-{i}"}))

            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(call, i)
    assert answers == {i: f"call-{i}" for i in range(50)}


async def test_a_16_mib_result_arrives_intact(server: Any, proxy_client: Any) -> None:
    size = 16 * 1024 * 1024
    with anyio.fail_after(120):
        async with proxy_client.connect(server.url, mode="legacy") as client:
            result = await client.call_tool("big", {"size": size})
    text = text_of(result)
    assert len(text) == size and text == "x" * size


@pytest.mark.parametrize("mode", CLIENT_MODES)
async def test_a_header_mirrored_parameter_is_sent_as_mcp_param_header(
    server: Any, proxy_client: Any, mode: str
) -> None:
    with anyio.fail_after(60):
        async with proxy_client.connect(server.url, mode=mode) as client:
            await client.list_tools()  # the proxy learns the x-mcp-header annotations here
            result = await client.call_tool("route", {"region": "eu-west \u00e9"})
    assert text_of(result) == "routed to eu-west \u00e9"
