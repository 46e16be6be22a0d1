"""The byte level of the harness: toxics, the TCP fault proxy, and its Toxiproxy-style control API."""

from agentdock.harness.tcp.control import control_app, control_server
from agentdock.harness.tcp.proxy import FaultProxy, ProxySet, parse_address
from agentdock.harness.tcp.toxics import (
    TOXICS,
    ClosePeer,
    Link,
    ResetPeer,
    Stream,
    Toxic,
    parse_toxic_spec,
    toxic_from_dict,
)

__all__ = [
    "TOXICS",
    "ClosePeer",
    "FaultProxy",
    "Link",
    "ProxySet",
    "ResetPeer",
    "Stream",
    "Toxic",
    "control_app",
    "control_server",
    "parse_address",
    "parse_toxic_spec",
    "toxic_from_dict",
]
