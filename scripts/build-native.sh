#!/usr/bin/env bash
# Builds the relay's native SRTP module (native/srtp/srtp.c → native/srtp/build/sharp_eyes_srtp.node)
# with the C compiler against the running Node's own headers (node_api.h, and the OpenSSL headers
# Node ships: the module uses the OpenSSL inside the node binary). One C file, Linux only, so a
# plain compiler call rather than node-gyp. Idempotent: skipped when the source, this script and
# the Node version are unchanged. Without a compiler the gateway still runs: the relay then
# protects and sends packets in JavaScript (werift's SRTP), at a higher CPU cost per viewer.
set -euo pipefail
cd "$(dirname "$0")/.."

src=native/srtp/srtp.c
out=native/srtp/build/sharp_eyes_srtp.node
stamp=native/srtp/build/.stamp
include=$(node -p "require('node:path').resolve(process.execPath, '../../include/node')")
want=$( (cat "$src" "$0"; node --version; echo "$include") | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "native srtp: up to date"
  exit 0
fi
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1 || [ ! -f "$include/node_api.h" ] || [ ! -f "$include/openssl/evp.h" ]; then
  echo "native srtp: NOT built (needs a C compiler and Node's headers in $include); the relay will use JavaScript SRTP" >&2
  exit 0
fi
echo "native srtp: building"
mkdir -p native/srtp/build
if ! "$cc" -O2 -fPIC -shared -std=c11 -Wall -Wextra -fvisibility=hidden -I"$include" -o "$out.tmp" "$src"; then
  rm -f "$out.tmp"
  echo "native srtp: BUILD FAILED (see above); the relay will use JavaScript SRTP" >&2
  exit 0
fi
mv "$out.tmp" "$out"
echo "$want" > "$stamp"
