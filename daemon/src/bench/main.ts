/**
 * `npm run bench [-- --json FILE] [-- --only name1,name2]` — micro-benchmarks of blinkd pieces.
 * Prints one JSON object to stdout (and writes it to FILE with --json). Each section is a
 * function returning a partial result object; other teams add theirs to SECTIONS.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embedSection } from './embedSection.js';
import { peerSection, visionSection } from './visionSection.js';
import { doorSection } from './doorSection.js';
import { adminSection } from './adminSection.js';

export type BenchResult = Record<string, number | string | boolean | null>;

export interface BenchSection {
  name: string;
  run: (ctx: BenchContext) => Promise<BenchResult>;
}

export interface BenchContext {
  repoRoot: string;
  log: (msg: string) => void;
}

export const SECTIONS: BenchSection[] = [visionSection, embedSection, peerSection, doorSection, adminSection];

export function findRepoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'models', 'manifest.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the repo root above ${from}`);
    dir = up;
  }
}

async function main(argv: string[]): Promise<void> {
  const jsonIdx = argv.indexOf('--json');
  const onlyIdx = argv.indexOf('--only');
  const only = onlyIdx >= 0 ? new Set((argv[onlyIdx + 1] ?? '').split(',')) : null;
  const ctx: BenchContext = { repoRoot: findRepoRoot(), log: (m) => process.stderr.write(`${m}\n`) };
  const result: BenchResult = { node: process.version, arch: process.arch, platform: process.platform };
  for (const s of SECTIONS) {
    if (only && !only.has(s.name)) continue;
    ctx.log(`bench: ${s.name}`);
    Object.assign(result, await s.run(ctx));
  }
  const text = `${JSON.stringify(result, null, 2)}\n`;
  process.stdout.write(text);
  if (jsonIdx >= 0) writeFileSync(resolve(argv[jsonIdx + 1] ?? 'bench.json'), text);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
