"""The settings every git step runs with, whatever the repository's or the host user's config says.

Three layers, each of which git ranks above the repository's own ``.git/config``:

* ``GIT_CONFIG_NOSYSTEM=1`` and ``GIT_CONFIG_GLOBAL=<file agentdock writes>``: no ``/etc/gitconfig``,
  no ``~/.gitconfig`` (so no host credential helper, ssh command, signing key or alias); the
  global file holds only the calling agent's ``user.name``/``user.email`` and ``safe.directory``;
* ``GIT_CONFIG_COUNT``/``KEY_n``/``VALUE_n`` pairs (command-line scope) with :data:`HARDENED`;
* the same pairs again as ``-c`` options placed *after* the caller's own global options, just
  before the subcommand, so even a ``-c`` the policy admitted cannot turn a hardened key back.

:class:`GitHome` is the gateway's private directory for this: an empty, read-only hooks
directory (``core.hooksPath``) and one identity file per agent.  It lives outside the project
(a private temporary directory), owned by the server.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

from agentdock.gitgate.invocation import GLOBAL_WITH_VALUE
from agentdock.procinfo import pid_alive

__all__ = ["HARDENED", "GitHome", "config_env", "hardened_argv", "subcommand_index"]

#: (key, value) pairs forced on every git step; ``core.hooksPath`` is filled in by :func:`config_env`.
HARDENED: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.untrackedCache", "false"),
    ("protocol.allow", "never"),
    ("protocol.ext.allow", "never"),
    ("protocol.fd.allow", "never"),
    ("protocol.file.allow", "never"),  # "always" only for a remote step when a remote is a local path
    ("protocol.git.allow", "always"),
    ("protocol.http.allow", "always"),
    ("protocol.https.allow", "always"),
    ("protocol.ssh.allow", "always"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("tag.forceSignAnnotated", "false"),
    ("push.gpgSign", "false"),
    ("maintenance.auto", "false"),
    ("gc.autoDetach", "false"),
)

_NEXT_WORD_ONLY = frozenset({"-C", "-c"})
_EQUALS_ONLY = frozenset({"--list-cmds"})
_AGENT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HOME_PREFIX = "agentdock-git-"
_HOME_NAME = re.compile(r"^agentdock-git-(\d+)-[A-Za-z0-9_]+$")


def _pairs(hooks_dir: str) -> list[tuple[str, str]]:
    return [("core.hooksPath", hooks_dir), *HARDENED]


def config_env(hooks_dir: str, global_file: str, safe_directories: Sequence[str] = ()) -> dict[str, str]:
    """The environment half of the hardening (see the module docstring).

    ``safe_directories``: the project (and its git dir), so the gateway's own reads work when
    the server (root) is not the owner; git honours ``safe.directory`` from this scope.
    """
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": global_file}
    pairs = [*_pairs(hooks_dir), *(("safe.directory", path) for path in safe_directories)]
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
    for number, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    return env


def subcommand_index(argv: Sequence[str]) -> int:
    """Where git's subcommand starts in ``argv`` (git's own global-option grammar, as the parser reads it)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name, eq, _ = argv[i].partition("=")
        i += 1
        takes_next_word = name in GLOBAL_WITH_VALUE and not eq and name not in _EQUALS_ONLY
        if takes_next_word:
            i += 1
    return min(i, len(argv))


def hardened_argv(argv: Sequence[str], hooks_dir: str, extra: Sequence[tuple[str, str]] = ()) -> list[str]:
    """``argv`` (without the leading ``git``) with the hardening ``-c`` pairs just before the subcommand.

    ``extra`` pairs come last and so win (the runtime's per-step exceptions, e.g. the file protocol).
    """
    at = subcommand_index(argv)
    forced: list[str] = []
    for key, value in [*_pairs(hooks_dir), *extra]:
        forced += ["-c", f"{key}={value}"]
    return [*argv[:at], *forced, *argv[at:]]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class GitHome:
    """The gateway's own directory: ``hooks/`` (empty, read-only) and ``identity/<agent>.gitconfig``.

    Created private to the server (mode 0755 so the unprivileged uid git runs as can read it; it
    holds no secret), removed when the object is collected or :meth:`close` is called.  Its name
    carries the server's pid: a server that was killed leaves its directory behind, and the next
    one to start removes every such directory of ours whose process is gone.
    """

    def __init__(self, safe_directories: Sequence[Path], *, base: Path | None = None) -> None:
        _sweep(Path(base or tempfile.gettempdir()))
        self.path = Path(tempfile.mkdtemp(prefix=f"{_HOME_PREFIX}{os.getpid()}-", dir=base))
        self.path.chmod(0o755)
        self.hooks = self.path / "hooks"
        self.hooks.mkdir(mode=0o555)
        self.hooks.chmod(0o555)
        self._identity = self.path / "identity"
        self._identity.mkdir(mode=0o755)
        self._safe = tuple(str(p) for p in safe_directories)
        self._lock = threading.Lock()  # steps are prepared in worker threads
        self._finalizer = weakref.finalize(self, _remove, self.path)

    def identity_file(self, agent: str) -> Path:
        """The ``GIT_CONFIG_GLOBAL`` file for ``agent``: its name and address, the safe directories."""
        if not _AGENT_NAME.match(agent):
            raise ValueError(f"agent name {agent!r} cannot be used as a git identity")
        target = self._identity / f"{agent}.gitconfig"
        lines = ["[user]", f"\tname = {_quote(agent)}", f"\temail = {_quote(agent + '@agentdock.invalid')}"]
        lines += ["[safe]", *(f"\tdirectory = {_quote(p)}" for p in self._safe)]
        text = "\n".join(lines) + "\n"
        with self._lock:
            self._write_if_changed(target, text)
        return target

    @staticmethod
    def _write_if_changed(target: Path, text: str) -> None:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            scratch = target.with_suffix(".tmp")
            scratch.write_text(text, encoding="utf-8")
            scratch.chmod(0o644)
            os.replace(scratch, target)

    def env_for(self, agent: str | None) -> Mapping[str, str]:
        global_file = str(self.identity_file(agent)) if agent is not None else os.devnull
        return config_env(str(self.hooks), global_file, self._safe)

    def close(self) -> None:
        self._finalizer()


def _sweep(base: Path) -> None:
    """Remove directories of killed servers: ours (same owner), not links, their pid not alive."""
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    for entry in entries:
        match = _HOME_NAME.match(entry.name)
        if match is None or pid_alive(int(match.group(1))):
            continue
        try:
            if (
                entry.is_dir(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid == os.geteuid()
            ):
                _remove(Path(entry.path))
        except OSError:
            continue


def _remove(path: Path) -> None:
    hooks = path / "hooks"
    if hooks.exists():
        hooks.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)
