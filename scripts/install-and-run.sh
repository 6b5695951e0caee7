#!/usr/bin/env bash
# The README's first command: install everything and start blinkd on embedded defaults
# (SQLite in ./data, simulated GPIO where there is none, admin on http://localhost:8080,
# camera auto-detected; pass a replay source with BLINK_CAMERA__SOURCE=file:/path/video.mp4).
set -euo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node reads this (npm 11 warns the .npmrc key will stop working): never fetch CUDA files.
export ONNXRUNTIME_NODE_INSTALL=skip
bash scripts/check-node.sh
bash scripts/system-packages.sh run
npm ci --no-audit --no-fund
npm run build
exec node daemon/bin/blinkd.js run "$@"
