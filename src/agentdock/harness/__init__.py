"""agentdock.harness: break the runtime parts on purpose, deterministically, and record what happened.

* a fault model (:mod:`~agentdock.harness.http.model`) and 33 HTTP/SSE fault kinds
  (:mod:`~agentdock.harness.http.kinds`), stacked into seeded plans;
* the fault MCP server (:func:`fault_server`), a real Streamable HTTP MCP
  endpoint whose delivery those faults break, with a request journal;
* the TCP fault proxy (:class:`FaultProxy`) with Toxiproxy-style toxics and an
  HTTP control API (:func:`control_server`);
* :func:`in_thread` to use any of them from synchronous code.

A library: it imports nothing else from agentdock (the layering test in
``tests/unit/test_layering.py`` enforces it).  ``http/`` holds the fault model, the built-in
kinds and the fault MCP server; ``tcp/`` the toxics, the TCP fault proxy and its control API.
"""

from agentdock.harness.background import in_thread
from agentdock.harness.errors import HarnessError, PlanError, ProxyConfigError, ServerStartError, ToxicError
from agentdock.harness.http import (
    FAULTS,
    Exchange,
    Fault,
    FaultServer,
    FaultServerApp,
    Journal,
    Match,
    Plan,
    PlanRunner,
    fault_from_dict,
    fault_server,
    register,
)
from agentdock.harness.httpserver import AsgiServer
from agentdock.harness.tcp import (
    TOXICS,
    FaultProxy,
    ProxySet,
    Toxic,
    control_app,
    control_server,
    parse_toxic_spec,
    toxic_from_dict,
)

__all__ = [
    "FAULTS",
    "TOXICS",
    "AsgiServer",
    "Exchange",
    "Fault",
    "FaultProxy",
    "FaultServer",
    "FaultServerApp",
    "HarnessError",
    "Journal",
    "Match",
    "Plan",
    "PlanError",
    "PlanRunner",
    "ProxyConfigError",
    "ProxySet",
    "ServerStartError",
    "Toxic",
    "ToxicError",
    "control_app",
    "control_server",
    "fault_from_dict",
    "fault_server",
    "in_thread",
    "parse_toxic_spec",
    "register",
    "toxic_from_dict",
]
