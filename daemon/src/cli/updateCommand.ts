import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { loadEffectiveConfig } from '../config/effective.js';
import { databasePath } from '../store/store.js';
import { createBundle } from '../update/bundle.js';
import {
  cameraFrameCheck,
  daemonReadyCheck,
  relayOffCheck,
  syncReachableCheck,
  systemdActiveCheck,
  systemdService,
  NO_SERVICE,
  type HealthCheck,
} from '../update/healthGate.js';
import { generateSigningKey, loadPublicKey } from '../update/manifest.js';
import { Updater } from '../update/updater.js';
import { parseCommandArgs, UsageError } from './args.js';

const HELP = `usage: blinkd update <subcommand>
  apply FILE|URL    verify a signed bundle, install it beside the current release, switch, gate, roll back on failure
  status [--json]   current release, installed releases, last results, an interrupted update
  rollback          back to the release and database from before the last update
  recover           finish an interrupted update's rollback (run at boot by blink-update-recover.service)
  keygen --out PREFIX                            write PREFIX.key (private, 0600) and PREFIX.pub
  sign --key FILE --out FILE [--version V] DIR   build a bundle from a release tree (DIR)
Options: --root DIR (default $BLINK_UPDATE_ROOT or /opt/blink), --keys DIR|FILE (trusted public keys,
  default /etc/blink/update-keys), --config FILE, --service UNIT|none (default blinkd.service),
  --deadline SEC (health gate, default 90), --no-camera (the gate does not wait for a camera frame)`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  root: { type: 'string' },
  keys: { type: 'string' },
  service: { type: 'string' },
  deadline: { type: 'string' },
  'no-camera': { type: 'boolean' },
  json: { type: 'boolean' },
  key: { type: 'string' },
  out: { type: 'string' },
  version: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function loadTrustedKeys(where: string): KeyObject[] {
  if (!existsSync(where)) return [];
  const files = statSync(where).isDirectory()
    ? readdirSync(where)
        .filter((f) => f.endsWith('.pub') || f.endsWith('.pem'))
        .map((f) => join(where, f))
    : [where];
  return files.map((f) => loadPublicKey(readFileSync(f, 'utf8'), f));
}

/** `blinkd update …`: signed app-level updates with a health gate and rollback (daemon/src/update). */
export async function updateCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseCommandArgs(rest, OPTIONS);
  if (!sub || sub === 'help' || sub === '--help' || values.help) {
    process.stdout.write(HELP + '\n');
    return sub ? 0 : 2;
  }
  const say = (m: string) => process.stdout.write(m + '\n');

  if (sub === 'keygen') {
    if (!values.out) throw new UsageError('update keygen needs --out PREFIX');
    const k = generateSigningKey();
    if (existsSync(`${values.out}.key`)) throw new Error(`${values.out}.key exists: refusing to overwrite a signing key`);
    writeFileSync(`${values.out}.key`, k.privatePem, { mode: 0o600 });
    chmodSync(`${values.out}.key`, 0o600);
    writeFileSync(`${values.out}.pub`, k.publicPem);
    say(`key ${k.keyId}: private ${values.out}.key (keep it off the units), public ${values.out}.pub (install into /etc/blink/update-keys/)`);
    return 0;
  }
  if (sub === 'sign') {
    const dir = positionals[0];
    if (!dir || !values.key || !values.out) throw new UsageError('usage: blinkd update sign --key FILE --out FILE [--version V] DIR');
    say(`hashing ${dir}`);
    const b = await createBundle({ dir, privateKeyPem: readFileSync(values.key, 'utf8'), out: values.out, version: values.version });
    say(`wrote ${b.file}: release ${b.manifest.version}, ${b.manifest.files.length} files, manifest sha256 ${b.digest}, signed by ${b.keyId}`);
    return 0;
  }

  if (!['apply', 'status', 'rollback', 'recover'].includes(sub)) throw new UsageError(`unknown update subcommand "${sub}"\n\n${HELP}`);
  const { config } = loadEffectiveConfig({ path: values.config });
  const root = values.root ?? process.env.BLINK_UPDATE_ROOT ?? '/opt/blink';
  const unit = values.service ?? 'blinkd.service';
  const deadlineSec = values.deadline === undefined ? 90 : Number(values.deadline);
  if (!Number.isFinite(deadlineSec) || deadlineSec <= 0 || deadlineSec > 3600) throw new UsageError('--deadline: seconds between 1 and 3600');
  const host = config.admin.host === '0.0.0.0' || config.admin.host === '::' ? '127.0.0.1' : config.admin.host;
  const healthUrl = `http://${host.includes(':') ? `[${host}]` : host}:${config.admin.port}/health`;
  const checks = (release: { appVersion: string | null }): HealthCheck[] => [
    ...(unit === 'none' ? [] : [systemdActiveCheck(unit)]),
    daemonReadyCheck(healthUrl, release.appVersion),
    relayOffCheck(healthUrl),
    ...(values['no-camera'] ? [] : [cameraFrameCheck(healthUrl)]),
    ...(config.sync.enabled && config.sync.serverUrl ? [syncReachableCheck(config.sync.serverUrl)] : []),
  ];
  const updater = new Updater({
    root,
    databaseFile: databasePath(config),
    trustedKeys: sub === 'apply' ? loadTrustedKeys(values.keys ?? '/etc/blink/update-keys') : [],
    service: unit === 'none' ? NO_SERVICE : systemdService(unit),
    checks,
    gateDeadlineMs: deadlineSec * 1000,
    progress: say,
  });

  if (sub === 'status') {
    const s = updater.status();
    if (values.json) {
      process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      return 0;
    }
    say(`root         ${s.root}`);
    say(`current      ${s.current ?? '(none)'}`);
    say(`releases     ${s.releases.join(', ') || '(none)'}`);
    say(`phase        ${s.state.phase}${s.interrupted ? ' (interrupted: the next update command or boot rolls back)' : ''}`);
    say(`rollback to  ${s.canRollBackTo ?? '(nothing)'}`);
    for (const h of s.state.history.slice(-5)) say(`  ${h.at} ${h.action} ${h.from ?? '-'} -> ${h.to}: ${h.result}: ${h.detail}`);
    return 0;
  }
  if (sub === 'recover') {
    const r = await updater.recover();
    if (!r) say('no interrupted update');
    return 0;
  }
  if (sub === 'rollback') {
    await updater.rollback();
    return 0;
  }
  const target = positionals[0];
  if (!target) throw new UsageError('usage: blinkd update apply FILE|URL');
  const url = /^https?:\/\//i.test(target) ? target : null;
  const file = url ? await download(url, join(root, 'update'), say) : target;
  try {
    const outcome = await updater.apply(file);
    return outcome.result === 'rolled_back' ? 1 : 0;
  } finally {
    if (url) rmSync(file, { force: true });
  }
}

/** Fetches a bundle to a file next to the staging area (the signature, not the transport, makes it trusted). */
async function download(url: string, dir: string, say: (m: string) => void): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `download-${process.pid}.tar`);
  say(`downloading ${new URL(url).origin}${new URL(url).pathname}`);
  const res = await fetch(url, { signal: AbortSignal.timeout(30 * 60_000) });
  if (!res.ok || !res.body) throw new Error(`download failed: HTTP ${res.status}`);
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(file, { mode: 0o600 }));
  } catch (err) {
    rmSync(file, { force: true });
    throw new Error(`download failed: ${(err as Error).message}`);
  }
  say(`      ${statSync(file).size} bytes`);
  return file;
}
