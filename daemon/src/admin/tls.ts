import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, chmodSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  /** Where they came from (for the log). */
  source: string;
}

/**
 * The admin's TLS key and certificate: none (mode off), the configured files (provided),
 * or a self-signed pair generated once with openssl into <dataDir>/tls and reused after.
 */
export function loadTls(config: Config, log: { info: (o: object, m: string) => void }): TlsMaterial | null {
  const tls = config.admin.tls;
  if (tls.mode === 'off') return null;
  if (tls.mode === 'provided') {
    if (!tls.cert || !tls.key) throw new Error('admin.tls.mode is "provided" but admin.tls.cert and admin.tls.key are not both set');
    return { cert: readFileSync(resolve(tls.cert)), key: readFileSync(resolve(tls.key)), source: resolve(tls.cert) };
  }
  const dir = resolve(config.store.dataDir, 'tls');
  const keyFile = join(dir, 'admin.key');
  const certFile = join(dir, 'admin.crt');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const name = hostname().replace(/[^A-Za-z0-9.-]/g, '-') || 'blink';
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          keyFile,
          '-out',
          certFile,
          '-days',
          '3650',
          '-subj',
          `/CN=${name}`,
          '-addext',
          `subjectAltName=DNS:${name},DNS:${name}.local,DNS:localhost,IP:127.0.0.1`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 },
      );
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT')
        throw new Error('admin.tls.mode is "self-signed" but openssl is not installed (apt-get install openssl), or provide a certificate');
      throw new Error(`openssl could not generate the admin certificate: ${e.stderr?.toString().trim() || e.message}`);
    }
    chmodSync(keyFile, 0o600);
    log.info({ cert: certFile }, 'generated a self-signed admin certificate');
  }
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), source: certFile };
}
