#!/usr/bin/env node
// Bundles the web admin (plain TypeScript + CSS) into web-admin/dist with esbuild.
// Called by `npm run build`; `--watch` rebuilds on change while developing.
import { build, context } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'web-admin');
const out = join(root, 'dist');
const watch = process.argv.includes('--watch');

const options = {
  entryPoints: [join(root, 'src', 'app.ts'), join(root, 'src', 'app.css')],
  outdir: out,
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: !watch,
  sourcemap: watch ? 'inline' : false,
  legalComments: 'none',
  logLevel: 'warning',
  entryNames: '[name]',
};

function writeIndex() {
  const js = readFileSync(join(out, 'app.js'));
  const css = readFileSync(join(out, 'app.css'));
  const version = createHash('sha256').update(js).update(css).digest('hex').slice(0, 12);
  writeFileSync(join(out, 'index.html'), readFileSync(join(root, 'index.html'), 'utf8').replaceAll('__VERSION__', version));
  return { version, jsBytes: js.length, cssBytes: css.length };
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
if (watch) {
  const ctx = await context({ ...options, plugins: [{ name: 'index', setup: (b) => b.onEnd(() => console.log('web-admin rebuilt', writeIndex())) }] });
  await ctx.watch();
} else {
  await build(options);
  const info = writeIndex();
  console.log(`web-admin: dist/app.js ${info.jsBytes} B, dist/app.css ${info.cssBytes} B (version ${info.version})`);
}
