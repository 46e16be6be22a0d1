#!/usr/bin/env bash
# Launch an agent: ./launch.sh [agent ...] | ./launch.sh doctor | ./launch.sh stop | ./launch.sh --help
# Bootstraps .venv on first use, then hands over to `agentdock launch`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/bootstrap.sh
. "$repo/scripts/bootstrap.sh"
agentdock_bootstrap "$repo"
case "${1:-}" in
    doctor | stop) cmd="$1"; shift; exec "$repo/.venv/bin/agentdock" "$cmd" "$@" ;;
    *) exec "$repo/.venv/bin/agentdock" launch "$@" ;;
esac
