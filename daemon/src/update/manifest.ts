import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { closeSync, lstatSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { z } from 'zod';

/**
 * The update bundle's manifest: every file (and symlink) of a release tree with its sha256, size
 * and mode, signed with Ed25519. The app code, the models and the migrations are all files of the
 * tree, so one signature covers them; `kind` only says which is which for people reading it.
 */
export const MANIFEST_FORMAT = 'blink-update/1';
/** Written next to the tree of an installed release: the manifest bytes it was installed from. */
export const RELEASE_MARKER = '.blink-release.json';

const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;

/** A path inside the tree: relative, forward slashes, normalized, no `..`, no empty or dot segments. */
function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 1024 || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  if (posix.normalize(p) !== p) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

const fileEntry = z
  .object({
    path: z.string().refine(isSafeRelativePath, 'a relative path inside the release (no "..", no leading "/")'),
    type: z.literal('file'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
    size: z.number().int().nonnegative(),
    mode: z.union([z.literal(0o644), z.literal(0o755)]),
    kind: z.enum(['app', 'model', 'migration']),
  })
  .strict();
const linkEntry = z
  .object({
    path: z.string().refine(isSafeRelativePath, 'a relative path inside the release (no "..", no leading "/")'),
    type: z.literal('symlink'),
    target: z.string().min(1).max(1024),
  })
  .strict();

export const manifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    version: z.string().regex(VERSION_RE, 'letters, digits, ".", "_", "+", "-" (at most 64), starting with a letter or digit'),
    /** package.json's version inside the tree: what the running daemon reports on /health. */
    appVersion: z.string().max(64).nullable(),
    createdAt: z.string(),
    files: z.array(z.discriminatedUnion('type', [fileEntry, linkEntry])).min(1),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const f of m.files) {
      if (seen.has(f.path)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `file listed twice: ${f.path}` });
      seen.add(f.path);
      if (f.type === 'symlink' && !linkStaysInside(f.path, f.target)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `symlink ${f.path} points outside the release: ${f.target}` });
      }
    }
    if (!seen.has('daemon/bin/blinkd.js')) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'the release has no daemon/bin/blinkd.js' });
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestEntry = Manifest['files'][number];

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

export function isValidVersion(v: string): boolean {
  return VERSION_RE.test(v);
}

function linkStaysInside(path: string, target: string): boolean {
  if (target.startsWith('/') || target.includes('\\') || target.includes('\0')) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  return resolved !== '..' && !resolved.startsWith('../') && !resolved.startsWith('/');
}

function kindOf(path: string): 'app' | 'model' | 'migration' {
  if (path.startsWith('models/')) return 'model';
  if (/(^|\/)store\/migrations\.(js|ts)$/.test(path)) return 'migration';
  return 'app';
}

export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every file and symlink under `dir` (sorted, relative paths), as manifest entries. Other kinds of file are refused. */
export function describeTree(dir: string, skip: (rel: string) => boolean = () => false): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  const walk = (rel: string) => {
    const names = readdirSync(rel ? join(dir, rel) : dir).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const abs = join(dir, r);
      const st = lstatSync(abs);
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) out.push({ path: r, type: 'symlink', target: readlinkSync(abs) });
      else if (st.isFile()) {
        out.push({ path: r, type: 'file', sha256: sha256File(abs), size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644, kind: kindOf(r) });
      } else throw new BundleError(`${abs}: not a file, directory or symlink`);
    }
  };
  walk('');
  return out;
}

export function buildManifest(dir: string, version: string | undefined): Manifest {
  let appVersion: string | null = null;
  try {
    appVersion = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    appVersion = null;
  }
  const v = version ?? appVersion;
  if (!v) throw new BundleError(`no --version given and ${join(dir, 'package.json')} has none`);
  const manifest = {
    format: MANIFEST_FORMAT,
    version: v,
    appVersion,
    createdAt: new Date().toISOString(),
    files: describeTree(dir, (rel) => rel === RELEASE_MARKER),
  };
  return parseManifest(Buffer.from(JSON.stringify(manifest)));
}

export function parseManifest(bytes: Buffer): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BundleError(`manifest.json is not JSON: ${(err as Error).message}`);
  }
  const r = manifestSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new BundleError(`manifest.json: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

// ---- keys and signatures ----------------------------------------------------------------------

export interface SignatureFile {
  alg: 'ed25519';
  keyId: string;
  sig: string;
}

const signatureSchema = z.object({ alg: z.literal('ed25519'), keyId: z.string().max(64), sig: z.string().max(200) }).strict();

/** A short fingerprint of a public key: the first 16 hex digits of the sha256 of its SPKI DER. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return sha256(pub.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

export function generateSigningKey(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyId(publicKey),
  };
}

export function loadPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new BundleError(`the signing key is ${key.asymmetricKeyType}, not ed25519`);
  return key;
}

export function loadPublicKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new BundleError(`${where}: not a public key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new BundleError(`${where}: ${key.asymmetricKeyType} key, expected ed25519`);
  return key;
}

export function signManifest(manifestBytes: Buffer, privateKey: KeyObject): SignatureFile {
  return { alg: 'ed25519', keyId: keyId(privateKey), sig: sign(null, manifestBytes, privateKey).toString('base64') };
}

/** Throws unless one of the trusted keys signed exactly these manifest bytes. */
export function verifyManifestSignature(manifestBytes: Buffer, signatureBytes: Buffer, trusted: readonly KeyObject[]): string {
  if (trusted.length === 0) throw new BundleError('no trusted update keys: install the publisher key(s) first (see docs/INSTALL.md, "Updates")');
  let parsed: SignatureFile;
  try {
    const r = signatureSchema.safeParse(JSON.parse(signatureBytes.toString('utf8')));
    if (!r.success) throw new Error(r.error.issues[0]!.message);
    parsed = r.data;
  } catch (err) {
    throw new BundleError(`manifest.sig is not a valid signature file: ${(err as Error).message}`);
  }
  const sig = Buffer.from(parsed.sig, 'base64');
  for (const key of trusted) {
    if (verify(null, manifestBytes, key, sig)) return keyId(key);
  }
  const known = trusted.map(keyId);
  throw new BundleError(
    known.includes(parsed.keyId)
      ? `bad signature: the manifest was changed after key ${parsed.keyId} signed it`
      : `signed by key ${parsed.keyId}, which is not trusted here (trusted: ${known.join(', ')})`,
  );
}
