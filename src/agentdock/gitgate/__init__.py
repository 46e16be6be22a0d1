"""agentdock.gitgate."""

__all__: list[str] = []
