from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from agentdock.launcher.windows.errors import TerminalNotFound
from agentdock.launcher.windows.terminals import (
    HostPlatform,
    Window,
    detect_terminal,
    hold_command,
    terminal_command,
)


def host(system: str = "linux", *programs: str, wsl: bool = False, **environ: str) -> HostPlatform:
    return HostPlatform(
        system, environ, lambda name: f"/usr/bin/{name}" if name in programs else None, is_wsl=wsl
    )


ALL = ("tmux", "gnome-terminal", "konsole", "xterm", "osascript", "wt.exe", "mintty")


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (host("linux", *ALL), "tmux"),  # no $DISPLAY / $WAYLAND_DISPLAY
        (host("linux", *ALL, DISPLAY=":0"), "gnome-terminal"),
        (host("linux", "tmux", "konsole", "xterm", WAYLAND_DISPLAY="wayland-0"), "konsole"),
        (host("linux", "tmux", "xterm", DISPLAY=":1"), "xterm"),
        (host("linux", "tmux", DISPLAY=":1"), "tmux"),  # a desktop but none of its terminals
        (host("freebsd14", "xterm", DISPLAY=":0"), "xterm"),
        (host("darwin", *ALL), "macos-terminal"),
        (host("linux", *ALL, wsl=True, WSL_DISTRO_NAME="Debian"), "windows-terminal"),
        (host("linux", "tmux", "xterm", wsl=True, DISPLAY=":0"), "tmux"),
        (host("win32", *ALL, MSYSTEM="MINGW64"), "mintty"),
        (host("cygwin", "mintty"), "mintty"),
    ],
)
def test_the_terminal_is_chosen_by_platform_and_desktop(platform: HostPlatform, expected: str) -> None:
    assert detect_terminal(platform) == expected


def test_tmux_is_used_on_a_desktop_when_asked() -> None:
    assert detect_terminal(host("linux", *ALL, DISPLAY=":0"), force_tmux=True) == "tmux"


def test_a_named_terminal_overrides_detection() -> None:
    assert detect_terminal(host("linux", *ALL, DISPLAY=":0"), requested="xterm") == "xterm"
    assert detect_terminal(host("linux", *ALL), requested="konsole") == "konsole"


def test_an_unknown_terminal_is_refused_with_the_choices() -> None:
    with pytest.raises(
        TerminalNotFound, match="unknown terminal 'kitty'; choose one of tmux, gnome-terminal"
    ):
        detect_terminal(host("linux", *ALL), requested="kitty")


def test_a_named_terminal_that_is_not_installed_is_refused() -> None:
    with pytest.raises(TerminalNotFound, match="'konsole' needs 'konsole'"):
        detect_terminal(host("linux", "xterm"), requested="konsole")


def test_no_desktop_and_no_tmux_is_refused_with_advice() -> None:
    with pytest.raises(TerminalNotFound, match=r"no desktop.*install tmux"):
        detect_terminal(host("linux", "xterm"))


WINDOW = Window("qa", ("/repo/launch.sh", "qa", "--project-root", "/p r", "--shell"), Path("/p r"))
HELD = hold_command("qa", WINDOW.command)


def test_hold_passes_title_and_command_as_arguments_to_a_constant_script() -> None:
    assert HELD[:2] == ["bash", "-c"]
    assert HELD[3:] == [
        "agentdock-window",
        "qa",
        "/repo/launch.sh",
        "qa",
        "--project-root",
        "/p r",
        "--shell",
    ]
    assert "qa" not in HELD[2] and "/p r" not in HELD[2]


@pytest.mark.parametrize(
    ("terminal", "expected"),
    [
        ("gnome-terminal", ["gnome-terminal", "--title=qa", "--working-directory=/p r", "--", *HELD]),
        ("konsole", ["konsole", "--workdir", "/p r", "-p", "tabtitle=qa", "-e", *HELD]),
        ("xterm", ["xterm", "-T", "qa", "-e", *HELD]),
        ("mintty", ["mintty", "--title", "qa", "--exec", *HELD]),
    ],
)
def test_terminal_command_lines_are_argument_lists(terminal: str, expected: list[str]) -> None:
    assert terminal_command(terminal, WINDOW, host()) == expected


def test_macos_terminal_gets_a_quoted_command_as_an_applescript_argument() -> None:
    args = terminal_command("macos-terminal", WINDOW, host("darwin"))
    assert args[0] == "osascript"
    assert all("/p r" not in part for part in args[:-1])
    cd, held = args[-1].split(" && ", 1)
    assert shlex.split(cd) == ["cd", "/p r"]
    assert shlex.split(held) == HELD


def test_windows_terminal_runs_the_window_through_wsl_and_escapes_semicolons() -> None:
    window = Window("qa", ("/repo/launch.sh", "qa", "--project-root", "/a;b"), Path("/a;b"))
    args = terminal_command("windows-terminal", window, host(WSL_DISTRO_NAME="Debian"))
    assert args[:6] == ["wt.exe", "-w", "0", "new-tab", "--title", "qa"]
    assert args[6:12] == ["wsl.exe", "-d", "Debian", "--cd", "/a\\;b", "--"]
    assert args[-1] == "/a\\;b"
    assert not any(";" in a.replace("\\;", "") for a in args)
