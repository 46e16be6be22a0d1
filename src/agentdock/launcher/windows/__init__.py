"""Multi-agent windows for ``./launch.sh A B ...``: tmux or the platform's terminal, one window per agent plus the inbox watcher."""

from agentdock.launcher.windows.errors import SessionError, TerminalNotFound, TmuxError
from agentdock.launcher.windows.multi import (
    WATCHER_WINDOW,
    MultiLaunchOptions,
    add_multi_arguments,
    agent_command,
    default_launch_command,
    host_platform,
    launch_many,
    plan_windows,
)
from agentdock.launcher.windows.terminals import (
    DESKTOP_TERMINALS,
    TERMINALS,
    HostPlatform,
    Window,
    detect_terminal,
    hold_command,
    terminal_command,
)
from agentdock.launcher.windows.tmux import TmuxSession, default_session_name

__all__ = [
    "DESKTOP_TERMINALS",
    "TERMINALS",
    "WATCHER_WINDOW",
    "HostPlatform",
    "MultiLaunchOptions",
    "SessionError",
    "TerminalNotFound",
    "TmuxError",
    "TmuxSession",
    "Window",
    "add_multi_arguments",
    "agent_command",
    "default_launch_command",
    "default_session_name",
    "detect_terminal",
    "hold_command",
    "host_platform",
    "launch_many",
    "plan_windows",
    "terminal_command",
]
