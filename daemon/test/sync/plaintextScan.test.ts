/**
 * The sync server never holds a template (or a synced face image) in clear: after units push
 * people, every row of the server's database and every file it wrote (PostgreSQL: the
 * database's data files after a checkpoint, the WAL written meanwhile and a pg_dump; SQLite:
 * the database, WAL and everything in the data directory) is searched for the embeddings'
 * float32 bytes, their JSON, hex and base64, and the photo's bytes.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeUnit, createBackend, embedding, ENGINES, startServer, syncUntilDone, type RunningServer, type TestBackend, type TestUnit } from './harness.js';

interface Needle {
  what: string;
  bytes: Buffer;
}

function needlesFor(emb: Float32Array, label: string): Needle[] {
  const raw = Buffer.from(emb.buffer, emb.byteOffset, emb.byteLength);
  const json = JSON.stringify(Array.from(emb));
  const values = Array.from(emb);
  return [
    { what: `${label} float32 bytes`, bytes: raw },
    { what: `${label} first 8 float32 values`, bytes: raw.subarray(0, 32) },
    { what: `${label} JSON`, bytes: Buffer.from(json) },
    { what: `${label} JSON of the first 3 numbers`, bytes: Buffer.from(`${values[0]},${values[1]},${values[2]}`) },
    { what: `${label} float64 bytes of the first 4`, bytes: Buffer.from(Float64Array.from(values.slice(0, 4)).buffer) },
    { what: `${label} hex`, bytes: Buffer.from(raw.subarray(0, 32).toString('hex')) },
    { what: `${label} base64`, bytes: Buffer.from(raw.toString('base64').slice(0, 64)) },
  ];
}

function findIn(haystack: Buffer, needles: Needle[]): string[] {
  return needles.filter((n) => haystack.includes(n.bytes)).map((n) => n.what);
}

function filesUnder(dir: string, since = 0): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, since));
    else if (e.isFile() && statSync(p).mtimeMs >= since) out.push(p);
  }
  return out;
}

describe.each(ENGINES)('no plaintext template on the sync server (%s)', (engine) => {
  let backend: TestBackend;
  let h: RunningServer;
  let unit: TestUnit;
  const started = Date.now() - 1000;
  const embeddings: Float32Array[] = [];
  const photo = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) % 256));
  let needles: Needle[];

  beforeAll(async () => {
    backend = await createBackend(engine);
    h = await startServer(backend);
    await h.server.ctx.orgs.create('acme', 'Acme');
    unit = await activeUnit(h.server, h.url, 'acme', 'door-a');
    for (let i = 0; i < 6; i++) {
      const templates = [0, 1, 2].map((k) => {
        const e = embedding(1000 + i * 10 + k);
        embeddings.push(e);
        return { id: `scan-${i}-${k}`, modelId: 'face-int8-v1', embedding: e, quality: 0.8 };
      });
      unit.store.enroll({ name: `Scanned Person ${i}`, templates, photo: i === 0 ? { id: 'photo-0', mime: 'image/jpeg', bytes: photo } : null });
    }
    // The original app in legacy mode cannot leak plaintext either: its envelopes are ciphertext too.
    await syncUntilDone(unit);
    // Another unit pulls and re-pushes (a rename), so every write path has run.
    const other = await activeUnit(h.server, h.url, 'acme', 'door-b');
    await syncUntilDone(other);
    other.store.update(other.store.livePeople()[0]!.id, { name: 'Scanned Person renamed' });
    await syncUntilDone(other);
    needles = [...embeddings.flatMap((e, i) => needlesFor(e, `template ${i}`)), { what: 'photo bytes', bytes: photo.subarray(0, 64) }];
  });
  afterAll(async () => {
    await h?.close();
    await backend?.dispose();
  });

  it('the scanner finds plaintext when it is there (control)', () => {
    const planted = Buffer.concat([Buffer.from('xx'), needles[0]!.bytes, Buffer.from(JSON.stringify(Array.from(embeddings[3]!))), photo]);
    expect(findIn(planted, needles)).toEqual(expect.arrayContaining(['template 0 float32 bytes', 'template 3 JSON', 'photo bytes']));
  });

  it('every row of every table holds only ciphertext', async () => {
    const tables = [
      'orgs',
      'org_counters',
      'org_keyrings',
      'key_usage',
      'devices',
      'claim_codes',
      'auth_nonces',
      'api_tokens',
      'people',
      'attendance',
      'schema_migrations',
    ];
    let dump = '';
    for (const t of tables) {
      const rows = await h.server.ctx.sql.query<Record<string, unknown>>(`SELECT * FROM ${t}`);
      dump += JSON.stringify(rows);
    }
    const text = Buffer.from(dump);
    expect(text.includes(Buffer.from('Scanned Person 1'))).toBe(true); // names travel in clear, as documented
    const ct = (
      JSON.parse(
        (await h.server.ctx.sql.query<{ templates_json: string }>(`SELECT templates_json FROM people WHERE name = 'Scanned Person 1'`))[0]!.templates_json,
      ) as Array<{ envelope: { ct: string } }>
    )[0]!.envelope.ct;
    expect(text.includes(Buffer.from(ct))).toBe(true); // the envelopes are there, as ciphertext
    expect(findIn(text, needles)).toEqual([]);
  });

  it('no file the database wrote holds a template or the photo in clear', async () => {
    let files: string[];
    let extra: Buffer[] = [];
    if (engine === 'postgres') {
      const c = new pg.Client({ connectionString: backend.databaseUrl });
      await c.connect();
      await c.query('CHECKPOINT');
      const oid = (await c.query(`SELECT oid FROM pg_database WHERE datname = current_database()`)).rows[0].oid as number;
      const dataDir = (await c.query('SHOW data_directory')).rows[0].data_directory as string;
      await c.end();
      files = [...filesUnder(join(dataDir, 'base', String(oid))), ...filesUnder(join(dataDir, 'pg_wal'), started)];
      const dump = spawnSync('pg_dump', ['--no-owner', backend.databaseUrl], { maxBuffer: 256 * 1024 * 1024 });
      expect(dump.status, String(dump.stderr)).toBe(0);
      extra = [dump.stdout];
      expect(dump.stdout.includes(Buffer.from('Scanned Person 2'))).toBe(true);
    } else {
      files = filesUnder(backend.dataDir);
      expect(files.some((f) => f.endsWith('blink_sync.db'))).toBe(true);
    }
    let sawNames = false;
    for (const f of files) {
      const bytes = readFileSync(f);
      if (bytes.includes(Buffer.from('Scanned Person 3'))) sawNames = true;
      expect(findIn(bytes, needles), f).toEqual([]);
    }
    for (const b of extra) expect(findIn(b, needles)).toEqual([]);
    expect(sawNames).toBe(true); // the scan read the files the rows are in
  });
});
