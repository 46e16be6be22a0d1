#!/usr/bin/env bash
# Start git-mcp (the git gateway for agent containers) on the host.
#
#   docker/scripts/start-git-mcp.sh [--background] [--project-root DIR] [--port N]
#
# Binds 127.0.0.1 and the Docker bridge gateway (what host.docker.internal resolves to in
# containers).  --background: detach, with pid and log files in <project>/.agentdock/run/
# (the same files `./launch.sh stop` reads).  ./launch.sh does this by itself when git-mcp
# does not answer; this script is for running it by hand.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
background=0
root="${AGENTDOCK_PROJECT_ROOT:-$PWD}"
port="${AGENTDOCK_GIT_PORT:-8001}"
while [ $# -gt 0 ]; do
    case "$1" in
        --background) background=1 ;;
        --project-root) root="${2:?--project-root needs a folder}"; shift ;;
        --port) port="${2:?--port needs a number}"; shift ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "start-git-mcp: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
root="$(cd "$root" && pwd)"

bin="$repo/.venv/bin/git-mcp"
[ -x "$bin" ] || bin="$(command -v git-mcp || true)"
[ -n "$bin" ] || { echo "start-git-mcp: git-mcp not found (run ./launch.sh once to create .venv)" >&2; exit 1; }

hosts="127.0.0.1"
gateway="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
[ -n "$gateway" ] && hosts="$hosts,$gateway"

argv=("$bin" --transport streamable-http --host "$hosts" --port "$port" --project-root "$root")
if [ "$background" = 0 ]; then
    exec "${argv[@]}"
fi

run="$root/.agentdock/run"
mkdir -p "$run"
pid_file="$run/git-mcp.pid"
if [ -f "$pid_file" ]; then
    old="$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$pid_file")"
    if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
        echo "git-mcp already running (pid $old)"; exit 0
    fi
fi
printf '\n--- %s starting: %s\n' "$(date -u +%FT%TZ)" "${argv[*]}" >>"$run/git-mcp.log"
setsid "${argv[@]}" </dev/null >>"$run/git-mcp.log" 2>&1 &
pid=$!
printf '{"pid": %d, "port": %d, "argv": ["%s"]}\n' "$pid" "$port" "$bin" >"$pid_file"
echo "git-mcp started (pid $pid, port $port, hosts $hosts, log $run/git-mcp.log)"
