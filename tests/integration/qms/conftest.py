"""A real QMS project with a token per agent, a real ``qms-mcp`` subprocess and SDK clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentdock import paths
from agentdock.mcphost import TokenStore
from agentdock.qms.process import ServerProcess, qms_server_process
from agentdock.qms.project import init_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    init_project(tmp_path)
    return tmp_path


@pytest.fixture
def tokens(project: Path) -> dict[str, str]:
    store = TokenStore(project)
    return {agent: store.ensure(agent) for agent in paths.DEFAULT_AGENTS}


@pytest.fixture(params=["stateful-sse", "stateless-json"])
def server(request: pytest.FixtureRequest, project: Path, tokens: dict[str, str]) -> Iterator[ServerProcess]:
    stateless = request.param == "stateless-json"
    with qms_server_process(project, stateless=stateless, json_response=stateless) as proc:
        yield proc


@pytest.fixture
def stateful_server(project: Path, tokens: dict[str, str]) -> Iterator[ServerProcess]:
    with qms_server_process(project) as proc:
        yield proc


Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def connect(tokens: dict[str, str]) -> Connect:
    """``async with connect(url, agent) as client``: an SDK client holding that agent's token."""

    @asynccontextmanager
    async def _connect(url: str, agent: str, **headers: str) -> AsyncIterator[Client]:
        http = httpx2.AsyncClient(
            headers={"authorization": f"Bearer {tokens[agent]}", **headers}, timeout=httpx2.Timeout(60.0)
        )
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            yield client

    return _connect


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)
