"""agentdock.inbox."""

__all__: list[str] = []
