#!/bin/sh
# CTest entry for the browser tests: installs the locked playwright-core when node_modules is
# stale, writes the demo model into the build folder, starts `whale serve` on a free port,
# runs the node --test files against it, then stops the server.
# Usage: run.sh WHALE_BINARY BUILD_DIR SCREENSHOT_PATH
set -eu
here=$(cd "$(dirname "$0")" && pwd)
whale="$1"
build_dir="$2"
export WHALE_SCREENSHOT="$3"
cd "$here"

if [ ! -x /usr/bin/chromium ] && [ -z "${WHALE_CHROMIUM:-}" ]; then
  echo "chromium not found: install it with scripts/install-deps" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

model="$build_dir/web-demo.gguf"
[ -f "$model" ] || "$whale" demo-model -o "$model" >/dev/null

log="$build_dir/web-whale-serve.log"
"$whale" serve -m "$model" --port 0 --cache-dir "$build_dir/web-prompt-cache" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
trap 'exit 1' INT TERM

# The server prints its URL once it has bound the port and loaded the model.
url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "whale serve exited before listening:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.2
done
if [ -z "$url" ]; then
  echo "whale serve did not start within 120 s:" >&2
  cat "$log" >&2
  exit 1
fi
export WHALE_URL="$url"

status=0
node --test --test-concurrency=1 whale_serve.test.js fake_api.test.js markdown.test.js || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- whale serve log ($log) ---" >&2
  tail -n 40 "$log" >&2
fi
exit "$status"
