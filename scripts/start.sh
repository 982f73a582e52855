#!/usr/bin/env bash
# One command for a fresh machine: installs what is missing, builds, and runs the gateway with the
# embedded SQLite store and the demo tree and cameras (GW_DEMO=0 for an empty gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GW_DEMO="${GW_DEMO:-1}"
# V8 flags, in scripts/gateway-node-flags (the Dockerfile and the benches use the same ones):
# - --max-semi-space-size=32, a 32 MB young generation (V8's default is 16): at a few thousand RTP
#   packets a second the relay's short-lived buffers otherwise survive into old space and set off a
#   full mark-compact every second or two (bench/relay: 24 → 6 per run, CPU at 32 viewers ≈ 19 →
#   14 % of a core).
# - --no-memory-reducer: a relay allocates little and steadily, which V8 reads as idle and answers
#   with its memory reducer: three full mark-compacts in a row, about every minute, to hand back a
#   few MB the gateway needs again at once. At 1 viewer those bursts were the costliest 20 s windows
#   (3.3 % of a core against 1.7 %); without it the 2-minute mean went from 1.9 to 1.7 %.
# - --heap-growing-percent=100: V8 starts marking for a full GC once the old generation's headroom
#   (its limit minus its size) is below the young generation's capacity. With a ~40 MB heap V8's own
#   growing factor left ~24 MB of headroom, under the 32 MB young generation, so a full mark-compact
#   ran every 15–22 s at 1 viewer (60–100 ms of CPU each, across threads). A limit of twice the live
#   heap leaves more headroom than that: no full GC in 80 s of steady state, a 1 ms scavenge every
#   ~2 s, and the 1-viewer CPU windows at 1.1–1.65 % instead of 1.35–1.95 %.
# shellcheck disable=SC2046 # the flags are words
exec node $(cat scripts/gateway-node-flags) dist/src/server.js
