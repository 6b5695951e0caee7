#!/usr/bin/env node
// blinkd entry point: runs the compiled daemon (npm run build puts it in dist/).
import { main } from '../../dist/daemon/src/main.js';

const code = await main(process.argv.slice(2));
if (code !== 0 || process.argv[2] !== 'run') process.exitCode = code;
