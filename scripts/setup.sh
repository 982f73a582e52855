#!/usr/bin/env bash
# Makes a fresh clone runnable: Debian packages (ffmpeg, GStreamer RTSP server, Chromium, fonts),
# npm packages (better-sqlite3 builds from source here), the web application and the TypeScript
# build. Idempotent: each step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${GW_SKIP_SYSTEM_DEPS:-0}" != "1" ]; then
  bash scripts/install-system-deps.sh
fi

stamp=node_modules/.setup-stamp
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "npm packages: installing"
  npm ci --no-fund --no-audit --loglevel=error
  echo "$want" > "$stamp"
else
  echo "npm packages: up to date"
fi

bash scripts/build-native.sh

if [ -f scripts/build-web.sh ]; then
  bash scripts/build-web.sh
fi

echo "typescript: building"
npx tsc -p tsconfig.build.json
