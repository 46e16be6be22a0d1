"""agentdock.proxy."""

__all__: list[str] = []
