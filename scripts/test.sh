#!/usr/bin/env bash
# The README's second command: install everything the tests need and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node reads this (npm 11 warns the .npmrc key will stop working): never fetch CUDA files.
export ONNXRUNTIME_NODE_INSTALL=skip
bash scripts/check-node.sh
bash scripts/system-packages.sh test
npm ci --no-audit --no-fund
npm run lint
npm run typecheck
npm test
