"""agentdock.gitgate: ``git-mcp``, git for agent containers behind a parsed policy.

* :func:`judge` — parse a command string and check every step against :data:`RULES`.
* :class:`GitGateway` / :class:`GateConfig` — judge, run (argument lists, fixed env, timeout, cap), record.
* ``agentdock.gitgate.server:main`` — the ``git-mcp`` command (MCP tool ``git_exec``).
"""

from agentdock.gitgate.errors import ConfigError, ExecutionError, GitGateError, Refused
from agentdock.gitgate.executor import ChainResult, ExecLimits, StepResult, build_env, run_chain
from agentdock.gitgate.facts import ProtectedPath, RepoFacts, load_facts
from agentdock.gitgate.gateway import GateConfig, GitGateway, Outcome, render
from agentdock.gitgate.lexer import split_chain
from agentdock.gitgate.policy import RULES, Rule, explain, judge

__all__ = [
    "RULES",
    "ChainResult",
    "ConfigError",
    "ExecLimits",
    "ExecutionError",
    "GateConfig",
    "GitGateError",
    "GitGateway",
    "Outcome",
    "ProtectedPath",
    "Refused",
    "RepoFacts",
    "Rule",
    "StepResult",
    "build_env",
    "explain",
    "judge",
    "load_facts",
    "render",
    "run_chain",
    "split_chain",
]
