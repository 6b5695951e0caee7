import { existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import { loadEffectiveConfig } from '../config/effective.js';
import { databasePath } from '../store/store.js';
import { openDatabase } from '../store/database.js';
import { AdminUsersRepo } from '../admin/usersRepo.js';
import { SetupToken } from '../admin/setupToken.js';
import { loadTls } from '../admin/tls.js';
import { exportPublicKey, loadOrCreateDeviceKey } from '../sync/requestSigning.js';
import { ensureUnitId, hostnameUnitId, readUnitId } from '../system/unitId.js';
import { parseCommandArgs } from './args.js';

/**
 * `blinkd firstboot`: makes what is unique to this unit and must never come from an image, each
 * with the code that owns it (the same code `blinkd run` would otherwise call lazily), and prints
 * what an installer needs to see: the unit id, the one-time admin setup token (only while no
 * admin account exists), the admin certificate's fingerprint and the sync device's public key.
 * Private keys are never printed. Running it again creates nothing and prints the same facts.
 * Run by image/firstboot.sh (blink-firstboot.service) as the blink user, before blinkd starts.
 */
export async function firstbootCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, false);
  const { config } = loadEffectiveConfig({ path: values.config });
  const dataDir = resolve(config.store.dataDir);
  const dbFile = databasePath(config);
  const hasDb = existsSync(dbFile);
  const out: Record<string, unknown> = { dataDir };
  const lines: string[] = [];

  // Unit id: the configured one wins; else the saved one; else made now. A unit that has run
  // before (it has a database) keeps the host-name id it has been using.
  const saved = readUnitId(dataDir);
  if (!saved && config.unit.id !== hostnameUnitId()) {
    out.unitId = { id: config.unit.id, source: 'configuration' };
  } else {
    const { id, created } = ensureUnitId(dataDir, hasDb ? config.unit.id : null);
    out.unitId = { id, source: saved ? 'saved' : hasDb ? 'kept from the host name' : 'generated', created, file: join(dataDir, 'unit-id') };
  }
  lines.push(`unit id          ${(out.unitId as { id: string }).id}`);

  // Admin setup token: only while there is no admin account (what AdminApi checks at start).
  let admins = 0;
  if (hasDb) {
    const db = openDatabase(dbFile, { readonly: true });
    try {
      admins = new AdminUsersRepo(db).count();
    } finally {
      db.close();
    }
  }
  const setup = new SetupToken(dataDir);
  if (admins === 0) {
    const fresh = !existsSync(setup.file);
    const token = setup.ensure();
    out.setupToken = { token, file: setup.file, created: fresh };
    lines.push(
      `setup token      ${token}   (enter it at http${config.admin.tls.mode === 'off' ? '' : 's'}://<this unit>:${config.admin.port}/ to create the admin account)`,
    );
  } else {
    out.setupToken = null;
    lines.push('setup token      none (the admin account exists)');
  }

  // Admin TLS: generated once when the mode is self-signed (the admin's own loader).
  const generated = { cert: false };
  const tls = loadTls(config, { info: () => (generated.cert = true) });
  if (tls) {
    const fingerprint = new X509Certificate(tls.cert).fingerprint256;
    out.adminTls = { mode: config.admin.tls.mode, cert: tls.source, sha256: fingerprint, created: generated.cert };
    lines.push(`admin TLS        ${config.admin.tls.mode}, certificate ${tls.source}, SHA-256 ${fingerprint}`);
  } else {
    out.adminTls = { mode: 'off' };
    lines.push('admin TLS        off (admin.tls.mode)');
  }

  // Sync device key: the unit's identity at the sync server, made whether or not sync is on yet.
  const keyFile = config.sync.deviceKeyFile || join(dataDir, 'sync-device-key.pem');
  const { key, created } = loadOrCreateDeviceKey(keyFile);
  const publicKey = exportPublicKey(key);
  out.syncDeviceKey = { file: keyFile, publicKey, created };
  lines.push(`sync device key  ${keyFile}, public key ${publicKey}`);

  if (values.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
