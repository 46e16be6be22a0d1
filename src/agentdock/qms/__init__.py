"""agentdock.qms."""

__all__: list[str] = []
