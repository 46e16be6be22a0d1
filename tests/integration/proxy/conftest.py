"""Fixtures for the proxy's integration tests: a real MCPServer subprocess and the SDK client through the proxy."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client

from agentdock.proxy.testserver import ServerHandle, running_server

REPO = Path(__file__).resolve().parents[3]
PROXY_SCRIPT = REPO / "proxy" / "mcp_proxy.py"

# (stateless, json_response) -> id
SERVER_MODES = {
    "stateful-sse": (False, False),
    "stateful-json": (False, True),
    "stateless-sse": (True, False),
    "stateless-json": (True, True),
}


@pytest.fixture(scope="module", params=list(SERVER_MODES))
def server(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    """One real server per mode, shared by the tests of a module."""
    stateless, json_response = SERVER_MODES[request.param]
    with running_server(stateless=stateless, json_response=json_response) as handle:
        yield handle


@pytest.fixture
def fresh_server() -> Iterator[ServerHandle]:
    """A stateful SSE server of the test's own, free to be killed and restarted."""
    with running_server() as handle:
        yield handle


class ProxyLog:
    """The proxy subprocess's stderr, kept for assertions and for failure reports."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by the fixture

    def text(self) -> str:
        self.file.flush()
        self.file.seek(0)
        return self.file.read()


@pytest.fixture
def proxy_log(request: pytest.FixtureRequest) -> Iterator[ProxyLog]:
    log = ProxyLog()
    yield log
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        sys.stderr.write(f"\n----- proxy stderr -----\n{log.text()}\n")
    log.file.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


class ProxyClient:
    """Builds SDK clients that reach a server through a `python3 proxy/mcp_proxy.py` subprocess."""

    def __init__(self, log: ProxyLog) -> None:
        self.log = log

    @contextlib.asynccontextmanager
    async def connect(
        self,
        url: str,
        *proxy_args: str,
        env: dict[str, str] | None = None,
        **client_kwargs: Any,
    ) -> AsyncIterator[Client]:
        params = StdioServerParameters(
            command=sys.executable,
            args=[str(PROXY_SCRIPT), url, "--log-level", "info", *proxy_args],
            env={**get_default_environment(), **(env or {})},
        )
        async with Client(stdio_client(params, errlog=self.log.file), **client_kwargs) as client:
            yield client


@pytest.fixture
def proxy_client(proxy_log: ProxyLog) -> ProxyClient:
    return ProxyClient(proxy_log)
