#!/usr/bin/env bash
# Run agentdock's tests: ./test.sh            (unit + integration, the default nox session)
#                        ./test.sh -s lint typecheck
# Bootstraps .venv (with nox) on first use; every argument goes to nox.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/bootstrap.sh
. "$repo/scripts/bootstrap.sh"
agentdock_bootstrap "$repo"
cd "$repo"
exec "$repo/.venv/bin/nox" "$@"
