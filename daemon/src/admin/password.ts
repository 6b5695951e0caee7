import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { Admission } from '../util/admission.js';
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
const hashing = new Admission(2, 32, () => new PasswordBusyError());
const gated = <T>(work: () => Promise<T>): Promise<T> => hashing.run(work);

/** How many scrypt hashes have run in this process (for tests: unknown users cost one too). */
export function scryptRuns(): number {
  return hashing.started();
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

/**
 * The strength estimator (zxcvbn-ts with its common-password, names and keyboard-pattern lists),
 * loaded at the first password set: its dictionaries are ~2 MB that a unit which never changes a
 * password need not parse at start.
 */
let estimator: Promise<ZxcvbnFactory> | null = null;
function strength(): Promise<ZxcvbnFactory> {
  estimator ??= (async () => {
    const [{ ZxcvbnFactory: Factory }, common] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]);
    return new Factory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs });
  })();
  return estimator;
}

/**
 * The least zxcvbn score a new password needs: 3 = "safely unguessable" (~10^8 guesses or more).
 * With scrypt at 128 MiB an offline attacker of a stolen SD card makes well under 10^4 guesses a
 * second per GPU, and the online throttle allows a few a minute, so 10^8 holds for years; score 2
 * would admit "Summer2024!"-like passwords that every cracking list tries early.
 */
export const MIN_PASSWORD_SCORE = 3;

/** Why a new password is refused, or null when it is acceptable. */
export async function passwordProblem(password: string, username: string): Promise<string | null> {
  if (password.length < 10) return 'the password must have at least 10 characters';
  if (password.length > 256) return 'the password must have at most 256 characters';
  if (password.toLowerCase().includes(username.toLowerCase()) && username.length >= 3) return 'the password must not contain the user name';
  if (/^(.)\1+$/.test(password)) return 'the password must not be one repeated character';
  // Only the first 100 characters are estimated: the matcher is super-linear in length, and a
  // 100-character prefix that is weak is weak.
  const result = (await strength()).check(password.slice(0, 100), [username, 'blink', 'blinkd', 'admin', 'door']);
  if (result.score < MIN_PASSWORD_SCORE) {
    const why = WEAK_REASONS[result.feedback.warning ?? ''] ?? 'it would be guessed quickly';
    return `the password is too easy to guess (${why}): use a longer phrase of unrelated words`;
  }
  return null;
}

/** zxcvbn's warning keys, in the admin's words (the password itself is never repeated). */
const WEAK_REASONS: Record<string, string> = {
  topTen: 'it is one of the ten most common passwords',
  topHundred: 'it is one of the hundred most common passwords',
  common: 'it is a very common password',
  similarToCommon: 'it is a common password with small changes',
  wordByItself: 'a single word is easy to guess',
  namesByThemselves: 'names are easy to guess',
  commonNames: 'common names are easy to guess',
  userInputs: 'it contains the user name or the product name',
  straightRow: 'it is a row of keys on the keyboard',
  keyPattern: 'it is a keyboard pattern',
  simpleRepeat: 'it repeats a short pattern',
  extendedRepeat: 'it repeats a pattern',
  sequences: 'it is a sequence like 1234 or abcd',
  recentYears: 'recent years are easy to guess',
  dates: 'dates are easy to guess',
};
