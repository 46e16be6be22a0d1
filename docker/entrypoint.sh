#!/usr/bin/env bash
# Entrypoint of the agent container.
#   1. wait (bounded) for the MCP config overlay: <project>/.mcp.json with at least one server
#   2. log gh in from GH_TOKEN when set (the token is never printed)
#   3. in the agent's .claude.json (under CLAUDE_CONFIG_DIR): drop stale MCP/session state,
#      keep auth; mark the project trusted with its .mcp.json servers enabled (no prompt)
#   0. start the proxy's warm-start server in the background (AGENTDOCK_PROXY_WARM_SOCKET): an
#      allow-listed environment (no token or secret), its own session; never fatal
#   4. wait (at most 3 s) for the warm socket, write the readiness marker (AGENTDOCK_READY_FILE)
#      and say "agentdock: ready"
#   5. SETUP_ONLY=1: wait for `docker exec` (sleep until stopped); otherwise exec claude "$@"
set -euo pipefail

log() { printf 'agentdock: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

project="${AGENTDOCK_PROJECT_DIR:-$PWD}"
ready_file="${AGENTDOCK_READY_FILE:-/run/agentdock/ready}"
wait_s="${AGENTDOCK_MCP_WAIT_SECONDS:-60}"
config_dir="${CLAUDE_CONFIG_DIR:-$HOME/.claude}"
mcp_json="$project/.mcp.json"
rm -f "$ready_file"

# 0. the warm-start server (agentdock.proxy.warm): it imports the proxy while the steps below run.
#    env -i + an allow-list: a proxy child gets its client's environment, never the server's, and
#    the server itself holds no token. Its log goes to /tmp (the /run/agentdock tmpfs is 1m).
warm_socket="${AGENTDOCK_PROXY_WARM_SOCKET:-}"
if [ -n "$warm_socket" ] && [ "$(id -u)" != 0 ]; then
    warm_env=(PATH="$PATH" HOME="$HOME" LANG="${LANG:-C.UTF-8}")
    for name in LC_ALL LC_CTYPE TZ SSL_CERT_FILE REQUESTS_CA_BUNDLE NODE_EXTRA_CA_CERTS; do
        [ -n "${!name:-}" ] && warm_env+=("$name=${!name}")
    done
    (umask 077; exec env -i "${warm_env[@]}" python3 -m agentdock.proxy.warm --socket "$warm_socket" \
        </dev/null >>/tmp/agentdock-warm.log 2>&1) &
    warm_pid=$!
fi

# 1. the overlay is bind-mounted by the launcher; with compose it may be written just after start
deadline=$((SECONDS + wait_s))
until [ -s "$mcp_json" ] && jq -e '(.mcpServers // {}) | length > 0' "$mcp_json" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        die "no MCP servers in $mcp_json after ${wait_s}s (is the .mcp.json overlay mounted?)"
    fi
    sleep 0.5
done
servers_json=$(jq -c '.mcpServers | keys' "$mcp_json")
log "MCP config: $(jq -r '.mcpServers | keys | join(", ")' "$mcp_json")"

# 2. gh: GH_TOKEN in the environment already authenticates gh; also store it so `gh auth setup-git`
#    works for git over HTTPS.  Output is discarded so the token can never reach the logs.
if [ -n "${GH_TOKEN:-}" ]; then
    if printf '%s\n' "$GH_TOKEN" | env -u GH_TOKEN -u GITHUB_TOKEN gh auth login --with-token >/dev/null 2>&1; then
        env -u GH_TOKEN gh auth setup-git >/dev/null 2>&1 || true
        log "gh: logged in from GH_TOKEN"
    else
        log "gh: GH_TOKEN is set but 'gh auth login' failed (offline?); gh still reads GH_TOKEN"
    fi
fi

# With a read-only root, $HOME is an empty tmpfs: give bash its usual dotfiles back.
[ -e "$HOME/.bashrc" ] || cp -a /etc/skel/. "$HOME"/ 2>/dev/null || true

# git refuses repositories owned by another uid ("dubious ownership"); the project is read-only here
git config --global --add safe.directory '*'

# 3. the agent's Claude state: keep auth, reset per-project/MCP state, trust this project
mkdir -p "$config_dir"
state="$config_dir/.claude.json"
if [ -s "$state" ] && ! jq -e 'type == "object"' "$state" >/dev/null 2>&1; then
    log "warning: $state is not a JSON object; moving it to $state.corrupt"
    mv -f "$state" "$state.corrupt"
fi
[ -s "$state" ] || printf '{}\n' >"$state"
tmp="$state.tmp.$$"
jq --arg project "$project" --argjson servers "$servers_json" '
    del(.mcpServers)
    | .projects = {
        ($project): {
          allowedTools: [],
          mcpServers: {},
          hasTrustDialogAccepted: true,
          hasCompletedProjectOnboarding: true,
          projectOnboardingSeenCount: 1,
          enableAllProjectMcpServers: true,
          enabledMcpjsonServers: $servers,
          disabledMcpjsonServers: []
        }
      }
' "$state" >"$tmp"
mv -f "$tmp" "$state"
chmod 0600 "$state"

# 4. ready (the warm server gets at most 3 s more; without it proxies start cold)
if [ -n "${warm_pid:-}" ]; then
    for _ in $(seq 30); do
        [ -S "$warm_socket" ] && break
        kill -0 "$warm_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -S "$warm_socket" ] || log "warning: no warm proxy server at $warm_socket (proxies start cold; see /tmp/agentdock-warm.log)"
fi
mkdir -p "$(dirname "$ready_file")"
date -u +%Y-%m-%dT%H:%M:%SZ >"$ready_file"
log "ready"

# 5.
if [ "${SETUP_ONLY:-0}" = 1 ]; then
    trap 'exit 0' TERM INT
    sleep infinity &
    wait $!
    exit 0
fi
cd "$project"
exec claude "$@"
