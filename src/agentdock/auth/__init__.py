"""agentdock.auth."""

__all__: list[str] = []
