import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt (memory-hard), at the parameters OWASP recommends for
 * scrypt: N=2^17, r=8, p=1 (128 MiB, ~0.25 s on a laptop core, ~1 s on a Pi 4). The
 * hash runs on libuv's thread pool, so logins never block the door's event loop.
 * Stored form: scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>.
 */
export interface ScryptParams {
  log2N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { log2N: 17, r: 8, p: 1 };
const KEY_LEN = 32;

/** Refused when too many hashes are already running or queued (HTTP 503: try again in a moment). */
export class PasswordBusyError extends Error {
  constructor() {
    super('too many sign-ins at once: try again in a moment');
    this.name = 'PasswordBusyError';
  }
}

/**
 * At most 2 hashes run at once (256 MiB at the default parameters; libuv's other 2 threads stay
 * free for files and image decoding) and at most 32 wait; more are refused at once instead of
 * piling up memory and minutes of queued work.
 */
const MAX_RUNNING = 2;
const MAX_WAITING = 32;
let running = 0;
let runs = 0;
const waiting: Array<() => void> = [];

async function gated<T>(work: () => Promise<T>): Promise<T> {
  if (running < MAX_RUNNING) running++;
  else if (waiting.length >= MAX_WAITING) throw new PasswordBusyError();
  else await new Promise<void>((go) => waiting.push(go)); // the finishing hash hands its slot over
  try {
    runs++;
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** How many scrypt hashes have run in this process (for tests: unknown users cost one too). */
export function scryptRuns(): number {
  return runs;
}

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.log2N;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 128 * N * params.r * 2 + 1024 * 1024 };
  return gated(
    () => new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), salt, KEY_LEN, options, (err, key) => (err ? reject(err) : resolve(key)))),
  );
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, params);
  return ['scrypt', params.log2N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, log2N, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const params = { log2N: Number(log2N), r: Number(r), p: Number(p) };
  // Bounded so that a hash row cannot ask for gigabytes (128·N·r bytes) or minutes of work; room to raise the defaults 4×.
  if (
    ![params.log2N, params.r, params.p].every((n) => Number.isInteger(n) && n > 0) ||
    params.log2N > 24 ||
    params.p > 4 ||
    128 * 2 ** params.log2N * params.r > 512 * 1024 * 1024
  )
    return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), params);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a random password: verifying against it costs the same time as a real one (no user enumeration by timing). */
let dummyHash: Promise<string> | null = null;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(18).toString('base64')).catch((err: unknown) => {
    dummyHash = null; // e.g. busy: try again next time
    throw err;
  });
  return dummyHash;
}

/** Why a new password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < 10) return 'the password must have at least 10 characters';
  if (password.length > 256) return 'the password must have at most 256 characters';
  if (password.toLowerCase().includes(username.toLowerCase()) && username.length >= 3) return 'the password must not contain the user name';
  if (/^(.)\1+$/.test(password)) return 'the password must not be one repeated character';
  return null;
}
