"""agentdock.harness: break the runtime parts on purpose, deterministically, and record what happened.

* a fault model (:mod:`~agentdock.harness.model`) and 33 HTTP/SSE fault kinds
  (:mod:`~agentdock.harness.faults`), stacked into seeded plans;
* the fault MCP server (:func:`fault_server`), a real Streamable HTTP MCP
  endpoint whose delivery those faults break, with a request journal;
* the TCP fault proxy (:class:`FaultProxy`) with Toxiproxy-style toxics and an
  HTTP control API (:func:`control_server`);
* :func:`in_thread` to use any of them from synchronous code.

Names are imported lazily, so ``import agentdock.harness`` stays cheap (and
never imports Docker; the Docker layer lives in ``agentdock.harness.containers``).
"""

from __future__ import annotations

import importlib
from typing import Any

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

_WHERE = {
    "FAULTS": "model",
    "Fault": "model",
    "Match": "model",
    "Plan": "model",
    "PlanRunner": "model",
    "fault_from_dict": "model",
    "register": "model",
    "Exchange": "exchange",
    "Journal": "journal",
    "FaultServer": "server",
    "fault_server": "server",
    "FaultServerApp": "app",
    "AsgiServer": "httpserver",
    "FaultProxy": "tcpproxy",
    "ProxySet": "tcpproxy",
    "TOXICS": "toxics",
    "Toxic": "toxics",
    "parse_toxic_spec": "toxics",
    "toxic_from_dict": "toxics",
    "control_app": "control",
    "control_server": "control",
    "in_thread": "background",
    "HarnessError": "errors",
    "PlanError": "errors",
    "ProxyConfigError": "errors",
    "ServerStartError": "errors",
    "ToxicError": "errors",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'agentdock.harness' has no attribute {name!r}")
    if module == "model":
        importlib.import_module("agentdock.harness.faults")  # registers the built-in kinds
    value = getattr(importlib.import_module(f"agentdock.harness.{module}"), name)
    globals()[name] = value
    return value
