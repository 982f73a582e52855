#!/usr/bin/env bash
# Builds the command-centre web application (web/) into web/dist, which the gateway serves at /.
# Idempotent: every run produces a fresh web/dist from the sources (no prebuilt assets are committed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/vite ]; then
  echo "build-web: node_modules/.bin/vite is missing: run npm install (or scripts/setup.sh) first" >&2
  exit 1
fi
node_modules/.bin/vite build --config web/vite.config.ts --logLevel warn
echo "build-web: web/dist is ready ($(find web/dist -type f | wc -l) files)"
