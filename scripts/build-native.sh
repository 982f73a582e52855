#!/usr/bin/env bash
# Builds the relay's native modules with the C compiler against the running Node's own headers
# (node_api.h, uv.h, and the OpenSSL headers Node ships: the SRTP module uses the OpenSSL inside the
# node binary):
#   native/srtp/srtp.c            → native/srtp/build/sharp_eyes_srtp.node      (SRTP, batched sends)
#   native/ingest/interleaved.c   → native/ingest/build/sharp_eyes_ingest.node  (RTSP interleaved reads,
#                                   H.264 frame assembly: h264_frames.h)
# One C file each (with its folder's headers), Linux only, so a plain compiler call rather than
# node-gyp. Idempotent: a module is skipped when its sources, this script and the Node version are
# unchanged. Without a compiler the gateway still runs: the relay then protects and sends packets
# in JavaScript (werift's SRTP), and reads RTSP connections through Node's sockets, depacketizing
# H.264 there too, at a higher CPU cost.
set -euo pipefail
cd "$(dirname "$0")/.."

include=$(node -p "require('node:path').resolve(process.execPath, '../../include/node')")
cc=${CC:-cc}

# build <name> <source> <output> <header that must exist> <what the gateway does without it>
build() {
  local name=$1 src=$2 out=$3 header=$4 without=$5
  local stamp
  stamp="$(dirname "$out")/.stamp"
  local want
  want=$( (cat "$(dirname "$src")"/*.[ch] "$0"; node --version; echo "$include") | sha256sum | cut -d' ' -f1)
  if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "native $name: up to date"
    return 0
  fi
  if ! command -v "$cc" >/dev/null 2>&1 || [ ! -f "$include/node_api.h" ] || [ ! -f "$include/$header" ]; then
    echo "native $name: NOT built (needs a C compiler and Node's headers in $include); $without" >&2
    return 0
  fi
  echo "native $name: building"
  mkdir -p "$(dirname "$out")"
  if ! "$cc" -O2 -fPIC -shared -std=c11 -Wall -Wextra -fvisibility=hidden -I"$include" -o "$out.tmp" "$src"; then
    rm -f "$out.tmp"
    echo "native $name: BUILD FAILED (see above); $without" >&2
    return 0
  fi
  mv "$out.tmp" "$out"
  echo "$want" > "$stamp"
}

build srtp native/srtp/srtp.c native/srtp/build/sharp_eyes_srtp.node openssl/evp.h \
  'the relay will use JavaScript SRTP'
build ingest native/ingest/interleaved.c native/ingest/build/sharp_eyes_ingest.node uv.h \
  'RTSP connections will be read through Node sockets'
