#!/usr/bin/env bash
# Fails early, with a clear message, when Node.js is missing or older than 20.
set -euo pipefail
if ! command -v node >/dev/null 2>&1; then
  echo "blinkd needs Node.js 20 or newer; node is not installed" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "blinkd needs Node.js 20 or newer; this is $(node --version)" >&2
  exit 1
fi
