#!/usr/bin/env bash
# The viewer's browser tests: Debian's Chromium driven by playwright-core
# (pinned in package-lock.json) against viewer-test-server. Screenshots go to
# tests/browser/artefacts/. Called by .ci/run; runnable by hand.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && apt-get install -y -qq chromium
fi

cd "$root"
cargo build -p activity-log-tests --bin viewer-test-server
target_dir="${CARGO_TARGET_DIR:-$root/target}"

cd "$here"
npm ci --no-audit --no-fund
VIEWER_SERVER="$target_dir/debug/viewer-test-server" node --test --test-concurrency=1 viewer.test.mjs
