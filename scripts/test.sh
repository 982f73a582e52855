#!/usr/bin/env bash
# One command that runs every test: installs what the tests need (Debian packages, npm packages,
# the web build), typechecks, then runs the whole tap suite. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "typescript: checking src, test and bench"
npx tsc -p tsconfig.json --noEmit

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
npx tap --reporter=tap "$@" 2>&1 | tee "$log" || status=$?

# A plain closing line that any CI reader understands.
summary=$(grep -aE '^# \{ total:' "$log" | tail -1 || true)
passed=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
passed=${passed:-0}
failed=${failed:-$(grep -acE '^\s*not ok [0-9]+' "$log" || true)}
echo "tests: ${passed} passed, ${failed} failed"
if [ "$status" -eq 0 ] && [ "$failed" -ne 0 ]; then status=1; fi
exit "$status"
