"""agentdock.harness."""

__all__: list[str] = []
