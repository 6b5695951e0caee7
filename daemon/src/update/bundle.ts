import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import * as tar from 'tar';
import {
  BundleError,
  RELEASE_MARKER,
  buildManifest,
  describeTree,
  loadPrivateKey,
  parseManifest,
  sha256,
  signManifest,
  verifyManifestSignature,
  type Manifest,
} from './manifest.js';

/**
 * An update bundle is a plain tar file:
 *
 *   manifest.json   the manifest (format blink-update/1): every file of the release with sha256, size, mode
 *   manifest.sig    {"alg":"ed25519","keyId":…,"sig":base64} over the exact bytes of manifest.json
 *   tree/…          the release tree (app code with node_modules, models, migrations)
 */
export interface CreatedBundle {
  file: string;
  manifest: Manifest;
  digest: string;
  keyId: string;
}

/**
 * node-tar writes the second path of a file with nlink > 1 as a hard-link ('Link') entry, which
 * openBundle refuses; install.sh's releases hold such files (node-gyp links build/Release/x.node to
 * obj.target/x.node). Handed to the packer as its link cache, this map never remembers an inode,
 * so every path is packed as an ordinary file with its own bytes, as the manifest lists it.
 */
class NoHardLinks extends Map<`${number}:${number}`, string> {
  override get(): undefined {
    return undefined;
  }
  override set(): this {
    return this;
  }
}

export async function createBundle(opts: { dir: string; privateKeyPem: string; out: string; version?: string }): Promise<CreatedBundle> {
  const key = loadPrivateKey(opts.privateKeyPem);
  const manifest = buildManifest(opts.dir, opts.version);
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 1) + '\n');
  const signature = signManifest(manifestBytes, key);
  const meta = mkdtempSync(join(opts.out + '.meta-'));
  try {
    writeFileSync(join(meta, 'manifest.json'), manifestBytes);
    writeFileSync(join(meta, 'manifest.sig'), JSON.stringify(signature) + '\n');
    rmSync(opts.out, { force: true });
    packBundle(opts.out, meta, opts.dir, manifest);
  } catch (err) {
    rmSync(opts.out, { force: true });
    throw err;
  } finally {
    rmSync(meta, { recursive: true, force: true });
  }
  return { file: opts.out, manifest, digest: sha256(manifestBytes), keyId: signature.keyId };
}

/**
 * Writes the tar: manifest.json and manifest.sig from `meta`, then every manifest path of `dir`
 * under tree/. Synchronous packing: node-tar's asynchronous packer can stop for good on files with
 * several hard links (its promise never settles and node exits 13); the synchronous one either
 * finishes or throws (node-tar's error names the file; the last entry started is added). The
 * written archive is listed again and must hold exactly what openBundle accepts: every path of
 * the manifest as a File (of the listed size) or SymbolicLink (to the listed target) entry.
 */
function packBundle(out: string, meta: string, dir: string, manifest: Manifest): void {
  let current = join(meta, 'manifest.json');
  const common = { file: out, portable: true, strict: true, sync: true, linkCache: new NoHardLinks() } as const;
  const packing = (cwd: string) => (e: { path: string }) => void (current = join(cwd, e.path));
  try {
    tar.c({ ...common, cwd: meta, onWriteEntry: packing(meta) }, ['manifest.json', 'manifest.sig']);
    tar.r(
      { ...common, cwd: dir, prefix: 'tree', onWriteEntry: packing(dir) },
      manifest.files.map((f) => f.path),
    );
  } catch (err) {
    throw new BundleError(`${out}: packing stopped: ${(err as Error).message} (last entry started: ${current})`);
  }
  const want = new Map(manifest.files.map((f) => [`tree/${f.path}`, f]));
  const seen = new Set<string>();
  tar.t({
    file: out,
    sync: true,
    onReadEntry: (e) => {
      const f = want.get(e.path);
      if (e.path === 'manifest.json' || e.path === 'manifest.sig') return;
      const ok = f && (f.type === 'file' ? e.type === 'File' && e.size === f.size : e.type === 'SymbolicLink' && e.linkpath === f.target);
      if (!ok) throw new BundleError(`${out}: ${e.path} was packed as a ${e.type} entry (${e.size} bytes), not as the manifest lists it`);
      seen.add(e.path);
    },
  });
  const missing = [...want.keys()].filter((p) => !seen.has(p));
  if (missing.length > 0)
    throw new BundleError(`${out}: ${missing[0]} is missing from the packed bundle${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
}

export interface OpenedBundle {
  manifest: Manifest;
  manifestBytes: Buffer;
  /** sha256 of manifest.json: the identity of the bundle's content. */
  digest: string;
  /** The verified release tree, ready to be moved into releases/. */
  tree: string;
  signedBy: string;
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'Directory', 'SymbolicLink']);

/**
 * Unpacks a bundle into `staging` and verifies it: the signature over manifest.json by one of the
 * trusted keys, then every file against the manifest (same set of paths, sha256, size, symlink
 * targets). Anything else in the archive (devices, hard links, paths outside tree/) is refused.
 */
export async function openBundle(file: string, staging: string, trusted: readonly KeyObject[]): Promise<OpenedBundle> {
  if (!existsSync(file)) throw new BundleError(`${file}: no such file`);
  mkdirSync(staging, { recursive: true });
  const refused: string[] = [];
  try {
    await tar.x({
      file,
      cwd: staging,
      strict: true,
      preserveOwner: false,
      filter: (path, entry) => {
        const type = 'type' in entry ? String(entry.type) : 'File';
        const okPath = path === 'manifest.json' || path === 'manifest.sig' || path === 'tree' || path === 'tree/' || path.startsWith('tree/');
        if (!okPath || !ALLOWED_TYPES.has(type)) {
          refused.push(`${path} (${type})`);
          return false;
        }
        return true;
      },
    });
  } catch (err) {
    throw new BundleError(`${file}: not a readable update bundle (${(err as Error).message})`);
  }
  if (refused.length > 0) throw new BundleError(`the bundle holds entries an update may not: ${refused.slice(0, 5).join(', ')}`);
  const mPath = join(staging, 'manifest.json');
  const sPath = join(staging, 'manifest.sig');
  if (!existsSync(mPath) || !existsSync(sPath)) throw new BundleError('the bundle has no manifest.json or manifest.sig');
  const manifestBytes = readFileSync(mPath);
  const signedBy = verifyManifestSignature(manifestBytes, readFileSync(sPath), trusted);
  const manifest = parseManifest(manifestBytes);
  const tree = join(staging, 'tree');
  if (!existsSync(tree)) throw new BundleError('the bundle has no tree/');
  verifyTree(tree, manifest);
  for (const f of manifest.files) if (f.type === 'file') chmodSync(join(tree, f.path), f.mode);
  writeFileSync(join(tree, RELEASE_MARKER), manifestBytes);
  return { manifest, manifestBytes, digest: sha256(manifestBytes), tree, signedBy };
}

/** Throws naming the first difference between the unpacked tree and the signed manifest. */
export function verifyTree(tree: string, manifest: Manifest): void {
  const actual = new Map(describeTree(tree, (rel) => rel === RELEASE_MARKER).map((e) => [e.path, e]));
  for (const want of manifest.files) {
    const got = actual.get(want.path);
    if (!got) throw new BundleError(`${want.path}: listed in the manifest but missing from the bundle`);
    actual.delete(want.path);
    if (got.type !== want.type) throw new BundleError(`${want.path}: a ${got.type} in the bundle, a ${want.type} in the manifest`);
    if (want.type === 'file' && got.type === 'file') {
      if (got.size !== want.size || got.sha256 !== want.sha256)
        throw new BundleError(`${want.path}: sha256 does not match the signed manifest (tampered or corrupt)`);
    } else if (want.type === 'symlink' && got.type === 'symlink' && got.target !== want.target) {
      throw new BundleError(`${want.path}: symlink target differs from the signed manifest`);
    }
  }
  const extra = [...actual.keys()];
  if (extra.length > 0)
    throw new BundleError(`${extra[0]}: in the bundle but not in the signed manifest${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''}`);
}
