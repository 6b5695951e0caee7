/**
 * `npm run bench [-- --json FILE] [-- --only name1,name2]` — micro-benchmarks of blinkd pieces.
 * Prints one JSON object to stdout (and writes it to FILE with --json). Each section is a
 * function returning a partial result object; other teams add theirs to SECTIONS.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../system/paths.js';
import { embedSection } from './embedSection.js';
import { peerSection, visionSection } from './visionSection.js';
import { doorSection } from './doorSection.js';
import { relaySection } from './relaySection.js';
import { adminSection } from './adminSection.js';
import { syncSection } from './syncSection.js';
import { syncQueueSection } from './syncQueueSection.js';
import { syncCryptoSection } from './syncCryptoSection.js';
import { pinnedSection } from './pinnedSection.js';
import { gallerySection } from './gallerySection.js';
import { coldStartSection } from './coldStartSection.js';

export type BenchResult = Record<string, number | string | boolean | null>;

export interface BenchSection {
  name: string;
  run: (ctx: BenchContext) => Promise<BenchResult>;
}

export interface BenchContext {
  repoRoot: string;
  log: (msg: string) => void;
}

export const SECTIONS: BenchSection[] = [
  visionSection,
  embedSection,
  peerSection,
  pinnedSection,
  doorSection,
  relaySection,
  adminSection,
  syncSection,
  syncQueueSection,
  syncCryptoSection,
  gallerySection,
  coldStartSection,
];

export async function benchMain(argv: string[]): Promise<number> {
  const jsonIdx = argv.indexOf('--json');
  const onlyIdx = argv.indexOf('--only');
  const only = onlyIdx >= 0 ? new Set((argv[onlyIdx + 1] ?? '').split(',')) : null;
  const ctx: BenchContext = { repoRoot: repoRoot(), log: (m) => process.stderr.write(`${m}\n`) };
  const result: BenchResult = { node: process.version, arch: process.arch, platform: process.platform };
  for (const s of SECTIONS) {
    if (only && !only.has(s.name)) continue;
    ctx.log(`bench: ${s.name}`);
    Object.assign(result, await s.run(ctx));
  }
  const text = `${JSON.stringify(result, null, 2)}\n`;
  process.stdout.write(text);
  if (jsonIdx >= 0) writeFileSync(resolve(argv[jsonIdx + 1] ?? 'bench.json'), text);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  benchMain(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
