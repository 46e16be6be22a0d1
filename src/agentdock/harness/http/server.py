"""The fault MCP server, ready to use: ``async with fault_server(plan) as server: ... server.url``.

A thin layer over :class:`~agentdock.harness.http.app.FaultServerApp` served by
:class:`~agentdock.harness.httpserver.AsgiServer` on 127.0.0.1 (any free port
by default), requiring a bearer token (one is generated when none is given).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from agentdock.harness.http.app import FaultServerApp
from agentdock.harness.http.journal import Journal
from agentdock.harness.http.model import Plan, PlanRunner
from agentdock.harness.httpserver import AsgiServer

__all__ = ["FaultServer", "fault_server"]


@dataclass
class FaultServer:
    """A running fault server: where it listens, how to authenticate, what it saw."""

    app: FaultServerApp
    http: AsgiServer
    token: str

    @property
    def url(self) -> str:
        """The MCP endpoint, e.g. ``http://127.0.0.1:43117/mcp``."""
        return self.http.url + self.app.path

    @property
    def port(self) -> int:
        return self.http.port

    @property
    def journal(self) -> Journal:
        return self.app.journal

    @property
    def plan(self) -> Plan:
        return self.app.plan

    @property
    def seed(self) -> int:
        return self.app.plan.seed

    @property
    def auth_header(self) -> str:
        return f"Bearer {self.token}"

    def set_plan(self, plan: Plan) -> None:
        """Swap the fault plan at run time (counters start afresh; sessions and the journal stay)."""
        self.app.plan = plan
        self.app.runner = PlanRunner(plan)


@asynccontextmanager
async def fault_server(
    plan: Plan | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    default_mode: Literal["sse", "json"] = "sse",
    stateless: bool = False,
) -> AsyncIterator[FaultServer]:
    """Serve the fault MCP server until the block ends."""
    token = token or secrets.token_urlsafe(24)
    app = FaultServerApp(plan or Plan(), token=token, default_mode=default_mode, stateless=stateless)
    async with AsgiServer(app, host, port) as http:
        yield FaultServer(app, http, token)
