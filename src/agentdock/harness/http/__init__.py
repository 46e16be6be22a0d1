"""The HTTP/SSE side of the harness: the fault model, the built-in fault kinds, and the fault MCP server.

Importing this package registers the built-in kinds (``kinds`` imports ``model``, never the
other way round), so a plan built from JSON always finds them.
"""

from agentdock.harness.http.app import ABORT_EXTENSION, FaultServerApp, InjectedAbort
from agentdock.harness.http.exchange import Cut, Exchange, Outcome, Rejection, Request
from agentdock.harness.http.journal import Execution, Journal, RequestRecord
from agentdock.harness.http.kinds import FAULT_KINDS
from agentdock.harness.http.model import FAULTS, Fault, Match, Plan, PlanRunner, fault_from_dict, register
from agentdock.harness.http.server import FaultServer, fault_server

__all__ = [
    "ABORT_EXTENSION",
    "FAULTS",
    "FAULT_KINDS",
    "Cut",
    "Exchange",
    "Execution",
    "Fault",
    "FaultServer",
    "FaultServerApp",
    "InjectedAbort",
    "Journal",
    "Match",
    "Outcome",
    "Plan",
    "PlanRunner",
    "Rejection",
    "Request",
    "RequestRecord",
    "fault_from_dict",
    "fault_server",
    "register",
]
