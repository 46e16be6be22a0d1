# shellcheck shell=bash
# Sourced by ./launch.sh and ./test.sh: make sure .venv exists and holds this
# checkout of agentdock (with its dev tools), reinstalling only when
# pyproject.toml changed.  Needs only Python >= 3.11 on PATH.

agentdock_bootstrap() {
    local repo="$1" venv="$1/.venv" stamp="$1/.venv/.agentdock-installed" py="" cand want
    for cand in "${AGENTDOCK_PYTHON:-}" python3 python3.13 python3.12 python3.11 python; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            py="$cand"
            break
        fi
    done
    if [ -z "$py" ]; then
        echo "agentdock: Python >= 3.11 is required (set AGENTDOCK_PYTHON to its path)" >&2
        return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        echo "agentdock: creating $venv (first run) ..." >&2
        "$py" -m venv "$venv" || return 1
    fi
    want=$(cksum <"$repo/pyproject.toml")
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    # Several ./launch.sh at once (one per agent window) must not install at the same time: the
    # install runs under a lock (released when it ends), and looks again once it holds it.
    if command -v flock >/dev/null 2>&1; then
        (flock 9 && agentdock_install "$repo" "$venv" "$stamp" "$want") 9>"$venv/.bootstrap.lock"
    else
        agentdock_install "$repo" "$venv" "$stamp" "$want"
    fi
}

agentdock_install() {
    local repo="$1" venv="$2" stamp="$3" want="$4" log="$2/bootstrap.log"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    # One line per step; pip's own output goes to a log shown only when a step fails.
    : >"$log"
    echo "agentdock: installing agentdock and its tools into .venv (log: $log) ..." >&2
    if ! "$venv/bin/python" -m pip install --quiet --upgrade pip >>"$log" 2>&1 ||
        ! "$venv/bin/python" -m pip install --quiet -e "$repo[dev]" >>"$log" 2>&1; then
        echo "agentdock: installing into .venv failed; the last lines of $log:" >&2
        tail -n 30 "$log" >&2
        return 1
    fi
    printf '%s' "$want" >"$stamp"
}
