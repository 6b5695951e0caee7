#!/usr/bin/env bash
# The README's second command: install everything the tests need and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/check-node.sh
bash scripts/system-packages.sh test
npm ci --no-audit --no-fund
npm run lint
npm run typecheck
npm test
