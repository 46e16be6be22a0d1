"""Warm start: a fork server that has already imported the proxy, so a proxy start skips the imports.

``python3 -m agentdock.proxy.warm --socket /run/agentdock/warm/proxy.sock`` imports
:mod:`agentdock.proxy.cli` and what its first response needs (httpx, anyio's asyncio backend,
...), then listens on a Unix socket. ``proxy/mcp_proxy.py`` (the thin client, stdlib only)
hands it its argv, environment, working directory and its three stdio fds; the server forks
and the child runs ``agentdock.proxy.cli.main(argv)`` on the client's fds, in the client's
environment. The client waits, forwards SIGTERM/SIGINT/SIGHUP to the child, and exits with the
child's code. The agent image's entrypoint starts the server (docker/entrypoint.sh).

Protocol, one connection per proxy start::

    client -> server   4-byte big-endian length N (N <= 1 MiB), then N bytes: NUL-separated fields
                       ``agentdock-warm/1``, umask (octal), cwd, argc, argv[0..argc-1], then one
                       ``NAME=value`` per environment variable (:func:`encode_request`). No field of
                       these can hold a NUL on POSIX, so nothing is escaped, the bytes are the
                       client's own (any encoding), and the stdlib client imports no ``json``
                       (with ``re``, 7 ms of each start)
    server -> client   "A\\n": accepted (valid, and a child slot is free); or "E<reason>\\n" and the
                       connection closes: refused, nothing started (the client starts cold)
    client -> server   "F" carrying exactly three fds (stdin, stdout, stderr) as SCM_RIGHTS. Only a
                       server that has answered gets them: fds in flight to a wedged server would
                       stay open (a stdout nobody closes) until that server closes its socket
    server -> client   "P<pid>\\n": a child is forked and waits for the go (or "E<reason>\\n")
    client -> child    "G": the client commits and will never fall back. The child (which holds
                       the connection) waits at most 5 s for this byte and, without it, exits
                       without touching the fds; so a client that gave up waiting (and starts
                       cold) never has a twin reading its stdin
    server -> client   "X<code>\\n" once the child has exited (os.waitstatus_to_exitcode: -N for
                       signal N), then the connection closes

Trust: the socket's folder is created mode 0700 and must belong to the server's uid; each
connection's peer is checked with ``SO_PEERCRED`` (same uid only); a request is bounded (1 MiB,
5 s from accept, exactly three fds); at most 64 children live at once (more are refused, and
those clients start cold); children are reaped as they exit. The child's environment is the
client's, entirely: nothing of the server's (started with an allow-listed environment) or of
another client's reaches it, and it closes every fd it inherited but its own stdio.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import logging
import os
import select
import selectors
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentdock.proxy.errors import WarmServerError

__all__ = [
    "ENTRY",
    "EXIT_NOT_STARTED",
    "HANDSHAKE_TIMEOUT_S",
    "MAX_CHILDREN",
    "MAX_REQUEST_BYTES",
    "PRELOAD",
    "WarmLimits",
    "WarmServer",
    "encode_request",
    "main",
    "parse_request",
    "running_server",
]

log = logging.getLogger("agentdock.proxy.warm")

#: What a child runs: ``module:function``, called with the client's argv minus argv[0].
ENTRY = "agentdock.proxy.cli:main"
#: Imported before listening: the proxy and what its first response would otherwise import.
PRELOAD = (
    "agentdock.proxy.cli",
    "anyio._backends._asyncio",
    "anyio._core._signals",
    "anyio.streams.memory",
    "asyncio",
    "h11",
    "httpcore._async.connection_pool",
    "httpcore._async.http11",
    "httpcore._backends.anyio",
    "json",
)
MAX_REQUEST_BYTES = 1 << 20
HANDSHAKE_TIMEOUT_S = 5.0
MAX_CHILDREN = 64
#: Unfinished handshakes at once; more connections are closed at accept.
MAX_PENDING = 64
#: A child that was forked but never got the client's go (the client gave up) exits with this.
EXIT_NOT_STARTED = 75
_FDS = 3
_HEADER = 4
_UCRED = "3i"  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class WarmLimits:
    max_request_bytes: int = MAX_REQUEST_BYTES
    handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S
    max_children: int = MAX_CHILDREN
    max_pending: int = MAX_PENDING


@dataclass(frozen=True)
class Request:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    umask: int


#: The first field of a request: what it is, and the format's version.
REQUEST_MAGIC = b"agentdock-warm/1"
_OCTAL = frozenset(b"01234567")


def encode_request(argv: Sequence[str], env: Mapping[str, str], cwd: str, umask: int) -> bytes:
    """A request's bytes (without the length header), as ``proxy/mcp_proxy.py`` builds them."""
    return b"\0".join(
        [
            REQUEST_MAGIC,
            b"%o" % umask,
            os.fsencode(cwd),
            b"%d" % len(argv),
            *(os.fsencode(arg) for arg in argv),
            *(os.fsencode(name) + b"=" + os.fsencode(value) for name, value in env.items()),
        ]
    )


def parse_request(payload: bytes) -> Request:
    """The client's request (see the protocol above), validated; ValueError names what is wrong."""
    fields = payload.split(b"\0")
    if len(fields) < 5 or fields[0] != REQUEST_MAGIC:
        raise ValueError("not an agentdock warm-start request")
    umask_text, cwd, argc_text = fields[1], fields[2], fields[3]
    if not 0 < len(umask_text) <= 3 or not set(umask_text) <= _OCTAL:
        raise ValueError("umask must be octal, 0..777")
    if not cwd:
        raise ValueError("cwd must not be empty")
    if not argc_text.isdigit() or not 1 <= int(argc_text) <= len(fields) - 4:
        raise ValueError("argc must count the argv fields that follow (at least one)")
    argc = int(argc_text)
    env: dict[str, str] = {}
    for item in fields[4 + argc :]:
        name, equals, value = item.partition(b"=")
        if not equals or not name:
            raise ValueError("each environment field must be NAME=value")
        env[os.fsdecode(name)] = os.fsdecode(value)
    argv = [os.fsdecode(arg) for arg in fields[4 : 4 + argc]]
    return Request(argv=argv, env=env, cwd=os.fsdecode(cwd), umask=int(umask_text, 8))


@dataclass
class _Pending:
    sock: socket.socket
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    fds: list[int] = field(default_factory=list)
    request: Request | None = None  # set once accepted ("A" sent); the fds come next


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(_UCRED))
    _pid, uid, _gid = struct.unpack(_UCRED, creds)
    return int(uid)


def _prepare_folder(folder: str) -> None:
    """Create the socket's folder 0700; refuse one that is not a real folder of this uid."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise WarmServerError(f"cannot create {folder}: {exc}") from exc
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise WarmServerError(
            f"{folder} is not a folder owned by uid {os.getuid()}; refusing to listen there"
        )
    os.chmod(folder, 0o700)


def _clear_stale_socket(path: str) -> None:
    """Remove a socket left by a dead server; refuse to replace a live one or a non-socket."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise WarmServerError(f"{path} exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
            return
    raise WarmServerError(f"a warm server already listens on {path}")


def _load_entry(spec: str) -> Callable[[list[str]], Any]:
    module, _, name = spec.partition(":")
    function = getattr(importlib.import_module(module), name or "main")
    if not callable(function):
        raise WarmServerError(f"{spec} is not callable")
    return function  # type: ignore[no-any-return]


def preload(modules: Sequence[str] = PRELOAD) -> None:
    """Import what a child would import; what is not installed is skipped."""
    if "httpx" not in sys.modules:  # as proxy/mcp_proxy.py: httpx's CLI (click, rich) is never used
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            log.debug("preload: %s not imported: %s", name, exc)


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        print(value, file=sys.stderr)
        return 1
    return value & 0xFF


def _fresh_stdio() -> None:
    """New ``sys.std*`` objects on fds 0-2 (now the client's), buffered as a fresh interpreter's."""
    encoding = sys.stdout.encoding if sys.stdout is not None else "utf-8"
    sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, encoding=encoding, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding=encoding, errors="backslashreplace", closefd=False)  # noqa: SIM115


def _run_child(conn: socket.socket, fds: Sequence[int], request: Request, entry: Callable[..., Any]) -> None:
    """In the forked child: take the client's stdio and environment, wait for the go, run, exit."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)  # until the go, any of these just ends the child
        for target, fd in enumerate(fds):
            os.dup2(fd, target)  # dup2's copy is inheritable, the received one was close-on-exec
        keep = conn.fileno()
        # Every other fd the server held (listener, selector, other clients' connections and
        # stdio) is closed: this child sees only its own client's.
        os.closerange(_FDS, keep)
        os.closerange(keep + 1, 1 << 20)
        ready, _, _ = select.select([conn], [], [], HANDSHAKE_TIMEOUT_S)
        go = conn.recv(1) if ready else b""
        conn.close()
        if go != b"G":
            os._exit(EXIT_NOT_STARTED)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
        os.environ.clear()
        os.environ.update(request.env)
        os.umask(request.umask)
        _fresh_stdio()
        try:
            os.chdir(request.cwd)
        except OSError as exc:
            print(f"mcp-proxy: warm start: cannot enter {request.cwd}: {exc}", file=sys.stderr)
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)
        sys.argv = list(request.argv)
        try:
            code = _exit_code(entry(list(request.argv[1:])))
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except BaseException:
            traceback.print_exc()
            code = 1
        logging.shutdown()
    except BaseException:  # the child's own failure, on the client's stderr once fds are taken
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


class WarmServer:
    """The fork server: :meth:`serve` until :meth:`stop` (or SIGTERM via :func:`main`)."""

    def __init__(
        self,
        path: str,
        entry: Callable[..., Any],
        *,
        limits: WarmLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.entry = entry
        self.limits = limits or WarmLimits()
        self._clock = clock
        self._pending: dict[socket.socket, _Pending] = {}
        self._children: dict[int, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False

    # -- setup -------------------------------------------------------------------------------------
    def listen(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        _prepare_folder(folder)
        _clear_stale_socket(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            old = os.umask(0o177)
            try:
                listener.bind(self.path)
            finally:
                os.umask(old)
            listener.listen(64)
        except OSError as exc:
            listener.close()
            raise WarmServerError(f"cannot listen on {self.path}: {exc}") from exc
        listener.setblocking(False)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, "accept")
        for end in (self._wake_r, self._wake_w):
            end.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")

    def stop(self) -> None:
        """Ask :meth:`serve` to return (safe from a signal handler)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"s")

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self._listener.close()
            self._listener = None
        for pending in list(self._pending.values()):
            self._drop(pending, None)
        for conn in self._children.values():
            conn.close()
        self._children.clear()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- loop --------------------------------------------------------------------------------------
    def serve(self) -> None:
        """Accept, hand over, reap, until :meth:`stop`. SIGCHLD wakes the loop (see :func:`main`)."""
        if self._listener is None:
            self.listen()
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        previous = signal.signal(signal.SIGCHLD, lambda *_: None)
        try:
            while not self._stopping:
                timeout = self._next_timeout()
                for key, _ in self._selector.select(timeout):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        self._drain_wake()
                    else:
                        self._read(key.data)
                self._reap()
                self._expire()
        finally:
            signal.signal(signal.SIGCHLD, previous)
            signal.set_wakeup_fd(-1)

    def _next_timeout(self) -> float:
        if not self._pending:
            return 1.0  # reaping also runs on every wake-up; this bounds a missed SIGCHLD
        soonest = min(p.deadline for p in self._pending.values())
        return max(0.0, min(1.0, soonest - self._clock()))

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(512):
                pass
        except BlockingIOError:
            pass

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: try again on the next wake-up
                log.warning("accept failed: %s", exc)
                return
            try:
                uid = _peer_uid(conn)
            except OSError:
                conn.close()
                continue
            if uid != os.getuid():
                log.warning("refused a connection from uid %d", uid)
                self._refuse(conn, "not your server")
                continue
            if len(self._pending) >= self.limits.max_pending:
                self._refuse(conn, "busy")
                continue
            conn.setblocking(False)
            pending = _Pending(conn, self._clock() + self.limits.handshake_timeout_s)
            self._pending[conn] = pending
            self._selector.register(conn, selectors.EVENT_READ, pending)

    @staticmethod
    def _refuse(conn: socket.socket, reason: str) -> None:
        try:
            conn.setblocking(False)
            conn.send(b"E" + reason.encode() + b"\n")
        except OSError:
            pass
        conn.close()

    def _drop(self, pending: _Pending, reason: str | None) -> None:
        self._pending.pop(pending.sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(pending.sock)
        for fd in pending.fds:
            os.close(fd)
        pending.fds.clear()
        if reason is None:
            pending.sock.close()
        else:
            self._refuse(pending.sock, reason)

    def _expire(self) -> None:
        now = self._clock()
        for pending in [p for p in self._pending.values() if p.deadline <= now]:
            self._drop(pending, "handshake timed out")

    def _read(self, pending: _Pending) -> None:
        space = socket.CMSG_SPACE(16 * 4)
        try:
            data, ancdata, flags, _ = pending.sock.recvmsg(65536, space, socket.MSG_CMSG_CLOEXEC)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(pending, None)
            return
        for level, kind, blob in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(blob) - len(blob) % 4
                pending.fds.extend(memoryview(blob)[:usable].cast("i").tolist())
        if flags & socket.MSG_CTRUNC:
            self._drop(pending, "too many fds")
            return
        if not data:
            self._drop(pending, None)  # the client went away before finishing
            return
        pending.data += data
        if pending.request is None:
            self._read_request(pending)
        else:
            self._read_fds(pending, pending.request)

    def _read_request(self, pending: _Pending) -> None:
        if pending.fds:
            self._drop(pending, "fds before the request was accepted")
            return
        if len(pending.data) < _HEADER:
            return
        size = int.from_bytes(pending.data[:_HEADER], "big")
        if size > self.limits.max_request_bytes:
            self._drop(pending, "request too large")
            return
        if len(pending.data) < _HEADER + size:
            return
        if len(pending.data) > _HEADER + size:
            self._drop(pending, "unexpected bytes after the request")
            return
        try:
            request = parse_request(bytes(pending.data[_HEADER:]))
        except (ValueError, UnicodeDecodeError) as exc:
            self._drop(pending, f"bad request: {exc}")
            return
        if len(self._children) >= self.limits.max_children:
            self._drop(pending, "busy")
            return
        pending.request = request
        pending.data.clear()
        try:
            pending.sock.send(b"A\n")
        except OSError:
            self._drop(pending, None)

    def _read_fds(self, pending: _Pending, request: Request) -> None:
        if bytes(pending.data) != b"F" or len(pending.fds) != _FDS:
            self._drop(
                pending,
                f"expected F with {_FDS} fds, got {bytes(pending.data[:8])!r} with {len(pending.fds)}",
            )
            return
        if len(self._children) >= self.limits.max_children:
            self._drop(pending, "busy")
            return
        self._start(pending, request)

    def _start(self, pending: _Pending, request: Request) -> None:
        self._pending.pop(pending.sock, None)
        self._selector.unregister(pending.sock)
        fds, pending.fds = pending.fds, []
        conn = pending.sock
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            self._refuse(conn, f"fork failed: {exc}")
            return
        if pid == 0:  # pragma: no cover - the child ends in os._exit
            _run_child(conn, fds, request, self.entry)
        for fd in fds:
            os.close(fd)
        self._children[pid] = conn
        with contextlib.suppress(OSError):  # a client gone now never sends the go: the child exits
            conn.send(b"P%d\n" % pid)

    def _reap(self) -> None:
        while self._children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self._children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(OSError):
                conn.send(b"X%d\n" % os.waitstatus_to_exitcode(status))
            conn.close()

    @property
    def live_children(self) -> int:
        return len(self._children)


def _parse(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 -m agentdock.proxy.warm", description="Warm-start fork server for mcp-proxy."
    )
    parser.add_argument(
        "--socket",
        default=environ.get("AGENTDOCK_PROXY_WARM_SOCKET") or None,
        help="Unix socket path (default: $AGENTDOCK_PROXY_WARM_SOCKET); its folder is made 0700",
    )
    parser.add_argument("--entry", default=ENTRY, help=f"module:function a child runs (default {ENTRY})")
    parser.add_argument("--max-children", type=int, default=MAX_CHILDREN)
    parser.add_argument("--handshake-timeout-s", type=float, default=HANDSHAKE_TIMEOUT_S)
    args = parser.parse_args(argv)
    if not args.socket:
        parser.error("--socket (or AGENTDOCK_PROXY_WARM_SOCKET) is required")
    return args


def _ensure_stdio() -> None:
    """Fds 0-2 open (on /dev/null if need be), so no received fd can land on them before dup2."""
    for fd in range(_FDS):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv, os.environ)
    _ensure_stdio()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s"
    )
    with contextlib.suppress(OSError):  # already a session leader
        os.setsid()  # no controlling terminal: a tty's signals are for the agent, not this server
    preload()
    entry = _load_entry(args.entry)
    limits = WarmLimits(max_children=args.max_children, handshake_timeout_s=args.handshake_timeout_s)
    server = WarmServer(args.socket, entry, limits=limits)
    try:
        server.listen()
    except WarmServerError as exc:
        log.error("%s", exc)
        server.close()
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: server.stop())
    gc.freeze()  # what is imported now stays shared with every child (copy-on-write)
    log.info("listening on %s (pid %d)", args.socket, os.getpid())
    print(f"LISTENING {args.socket}", flush=True)  # for running_server(); stdout is otherwise unused
    try:
        server.serve()
    finally:
        server.close()
    log.info("stopped")
    return 0


@contextlib.contextmanager
def running_server(
    path: str,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    python: str = sys.executable,
    stderr: Any = None,
    timeout_s: float = 30.0,
) -> Iterator[subprocess.Popen[str]]:
    """A warm server subprocess listening on ``path``; stopped (SIGTERM, then SIGKILL) on exit.

    ``env`` is its whole environment (default: this process's); its log goes to ``stderr``
    (default: ours). Raises WarmServerError when it does not listen within ``timeout_s``.
    """
    process = subprocess.Popen(
        [python, "-m", "agentdock.proxy.warm", "--socket", path, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=dict(os.environ if env is None else env),
    )
    try:
        assert process.stdout is not None
        ready = select.select([process.stdout], [], [], timeout_s)[0]
        line = process.stdout.readline() if ready else ""
        if not line.startswith("LISTENING"):
            process.kill()
            process.communicate(timeout=timeout_s)
            raise WarmServerError(f"warm server did not listen on {path} (exit {process.returncode})")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        process.communicate()


if __name__ == "__main__":
    sys.exit(main())
