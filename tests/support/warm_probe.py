"""A stand-in for ``agentdock.proxy.cli:main`` that the warm-start tests run in the server's children.

``python3 -m agentdock.proxy.warm --entry warm_probe:main`` (with this folder on PYTHONPATH):

* ``info``      print one JSON line: pid, ppid, argv, cwd, umask, environment, open fds
* ``echo``      copy stdin to stdout line by line until EOF
* ``wait``      print ``ready``, then block on stdin until EOF or a signal (default dispositions:
                SIGTERM/SIGHUP end the process with that signal; SIGINT becomes exit code 130)
* ``exit N``    return N
* anything else print ``probe`` (tells a warm start from a cold one, whose ``--help`` is the proxy's)
"""

from __future__ import annotations

import json
import os
import sys


def _info() -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "umask": _umask(),
        "env": dict(os.environ),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    }


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "info":
        print(json.dumps(_info()), flush=True)
        return 0
    if command == "echo":
        for line in sys.stdin.buffer:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
        return 0
    if command == "wait":
        try:  # the signal may come as soon as "ready" is out
            print(json.dumps({"ready": os.getpid()}), flush=True)
            sys.stdin.buffer.read()
        except KeyboardInterrupt:
            return 130
        return 0
    if command == "exit":
        return int(argv[1])
    print("probe", flush=True)
    return 0
