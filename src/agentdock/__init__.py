"""agentdock: run AI coding agents in isolated Docker containers.

Containers reach host-side MCP servers (the QMS and the git gateway) through a
reliable stdio-to-Streamable-HTTP proxy; a fault-injection and soak harness
proves that reliability with numbers. See ``DESIGN.md`` for the map.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
