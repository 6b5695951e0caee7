/**
 * Envelope costs (`npm run bench -- --only sync-crypto`):
 *  - sync_keyring_unlock_ms: opening the organisation's key ring (scrypt N=2^17, r=8, p=1), once per unit start;
 *  - sync_seal_us / sync_open_us: one 128-d template envelope (AES-256-GCM with AAD);
 *  - sync_v1_key_ms: the original's PBKDF2-HMAC-SHA256 (10,000 iterations) v1 key, once per import.
 */
import type { BenchSection } from './main.js';
import { embeddingToBytes } from '../sync/envelope.js';
import { KeyRing } from '../sync/envelopeKeyRing.js';
import { deriveV1Key, parseV1Salt } from '../sync/envelopeV1.js';

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

export const syncCryptoSection: BenchSection = {
  name: 'sync-crypto',
  async run(ctx) {
    const passphrase = 'benchmark organisation passphrase';
    const ring = await KeyRing.create('bench', passphrase);
    const doc = ring.toDocument();
    const unlock: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await KeyRing.unlock(doc, passphrase);
      unlock.push(performance.now() - t0);
    }
    ctx.log(`sync-crypto: key ring unlock ${median(unlock).toFixed(0)} ms`);
    const emb = embeddingToBytes(Float32Array.from({ length: 128 }, (_, i) => Math.sin(i)));
    const c = { kind: 'template' as const, personId: 'p', itemId: 't', modelId: 'face-int8-v1', dim: 128, recordVersion: 1 };
    const n = 20_000;
    let t0 = performance.now();
    let env = ring.seal(c, emb);
    for (let i = 0; i < n; i++) env = ring.seal(c, emb);
    const sealUs = ((performance.now() - t0) * 1000) / n;
    t0 = performance.now();
    for (let i = 0; i < n; i++) ring.open(c, env);
    const openUs = ((performance.now() - t0) * 1000) / n;
    const v1: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await deriveV1Key('password', parseV1Salt('salt'));
      v1.push(performance.now() - t);
    }
    return {
      sync_keyring_unlock_ms: Math.round(median(unlock)),
      sync_seal_us: Math.round(sealUs * 10) / 10,
      sync_open_us: Math.round(openUs * 10) / 10,
      sync_v1_key_ms: Math.round(median(v1) * 10) / 10,
    };
  },
};
