#!/usr/bin/env bash
# One command for a fresh machine: installs what is missing, builds, and runs the gateway with the
# embedded SQLite store and the demo tree and cameras (GW_DEMO=0 for an empty gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GW_DEMO="${GW_DEMO:-1}"
# A 32 MB young generation (V8's default is 16): at a few thousand RTP packets a second the
# relay's short-lived buffers otherwise survive into old space and set off a full mark-compact
# every second or two (bench/relay: 24 → 6 per run, CPU at 32 viewers ≈ 19 → 14 % of a core).
exec node --max-semi-space-size=32 dist/src/server.js
