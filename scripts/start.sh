#!/usr/bin/env bash
# One command for a fresh machine: installs what is missing, builds, and runs the gateway with the
# embedded SQLite store and the demo tree and cameras (GW_DEMO=0 for an empty gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GW_DEMO="${GW_DEMO:-1}"
exec node dist/src/server.js
