/**
 * Read selected files out of a gzipped npm tarball (ustar, with GNU long-name and pax
 * extended headers), entirely in Node.
 */
import { gunzipSync } from 'node:zlib';

function cstr(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return Buffer.from(b.subarray(start, end)).toString('utf8');
}

function octal(b: Uint8Array, start: number, len: number): number {
  const s = cstr(b, start, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/** Extract the wanted paths (relative to the tarball root, e.g. "package/models/x.json"). */
export function extractFiles(tgz: Uint8Array, wanted: Iterable<string>): Map<string, Uint8Array> {
  const want = new Set(wanted);
  const tar = gunzipSync(tgz);
  const out = new Map<string, Uint8Array>();
  let off = 0;
  let longName: string | null = null;
  while (off + 512 <= tar.length && out.size < want.size) {
    const h = tar.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] ?? 48);
    const magic = cstr(h, 257, 6);
    let name = cstr(h, 0, 100);
    if (magic === 'ustar') {
      const prefix = cstr(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const body = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = cstr(body, 0, body.length);
      continue;
    }
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(Buffer.from(body).toString('utf8'));
      if (m?.[1]) longName = m[1];
      continue;
    }
    if (type === 'g') continue;
    if (longName) {
      name = longName;
      longName = null;
    }
    if ((type === '0' || type === '\0') && want.has(name)) out.set(name, Uint8Array.from(body));
  }
  const missing = [...want].filter((w) => !out.has(w));
  if (missing.length) throw new Error(`tarball is missing: ${missing.join(', ')}`);
  return out;
}
