#!/bin/sh
# CTest entry for the API tests: installs the locked openai client when node_modules is stale,
# writes the demo model next to the build when no model is given, then runs node --test.
# Usage: run.sh WHALE_BINARY BUILD_DIR [MODEL]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export WHALE_BINARY="$1"
build_dir="$2"
model="${3:-}"
cd "$here"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ -z "$model" ]; then
  model="$build_dir/api-demo.gguf"
  [ -f "$model" ] || "$WHALE_BINARY" demo-model -o "$model" >/dev/null
fi
export WHALE_MODEL="$model"
exec node --test --test-concurrency=1 chat.test.js load.test.js
