/**
 * The sync server's schema, version by version (forward only: add a new entry, never edit a
 * shipped one). Every table is keyed by organisation first: one organisation never reads
 * another's rows, and it is the natural partition key when one database is not enough.
 */
import type { Column, ServerMigration } from './schema.js';

const text = (name: string, notNull = false, def?: string): Column => ({ name, type: 'text', notNull, ...(def !== undefined ? { default: def } : {}) });
const int = (name: string, notNull = false, def?: number): Column => ({ name, type: 'int', notNull, ...(def !== undefined ? { default: def } : {}) });
const big = (name: string, notNull = false, def?: number): Column => ({ name, type: 'bigint', notNull, ...(def !== undefined ? { default: def } : {}) });

export const SERVER_MIGRATIONS: readonly ServerMigration[] = [
  {
    version: 1,
    name: 'organisations, devices, people, attendance, key rings',
    steps: [
      { createTable: { name: 'orgs', primaryKey: ['id'], columns: [text('id', true), text('name', true), int('legacy', true, 0), text('created_at', true)] } },
      {
        // Per-organisation counters taken under a row lock in the writing transaction: the change
        // numbers ("people", "attendance") commit in the order they are handed out; "people_horizon"
        // is the newest change number of a purged tombstone.
        createTable: { name: 'org_counters', primaryKey: ['org_id', 'name'], columns: [text('org_id', true), text('name', true), big('value', true, 0)] },
      },
      {
        createTable: {
          name: 'org_keyrings',
          primaryKey: ['org_id'],
          columns: [text('org_id', true), int('version', true), text('doc', true), text('updated_at', true), text('updated_by', true)],
        },
      },
      { createTable: { name: 'key_usage', primaryKey: ['org_id', 'kid'], columns: [text('org_id', true), text('kid', true), big('envelopes', true, 0)] } },
      {
        createTable: {
          name: 'devices',
          primaryKey: ['org_id', 'id'],
          columns: [
            text('org_id', true),
            text('id', true),
            text('name', true),
            text('public_key', true),
            text('status', true),
            text('created_at', true),
            text('approved_at'),
            text('approved_by'),
            text('revoked_at'),
            text('key_rotated_at'),
            text('last_seen_at'),
          ],
        },
      },
      {
        createTable: {
          name: 'claim_codes',
          primaryKey: ['code_hash'],
          columns: [text('code_hash', true), text('org_id', true), text('created_at', true), text('expires_at', true), text('used_at'), text('used_by')],
        },
      },
      {
        createTable: {
          name: 'auth_nonces',
          primaryKey: ['org_id', 'device_id', 'nonce'],
          columns: [text('org_id', true), text('device_id', true), text('nonce', true), big('expires_at', true)],
        },
      },
      { createIndex: { name: 'auth_nonces_expiry', table: 'auth_nonces', columns: ['expires_at'] } },
      {
        createTable: {
          name: 'api_tokens',
          primaryKey: ['id'],
          columns: [
            text('id', true),
            text('org_id', true),
            text('name', true),
            text('token_hash', true),
            text('role', true),
            text('created_at', true),
            text('revoked_at'),
            text('last_used_at'),
          ],
        },
      },
      { createIndex: { name: 'api_tokens_hash', table: 'api_tokens', columns: ['token_hash'], unique: true } },
      {
        // The original's users table (id, name, encrypted_envelope_json, model_mode, enrolled_at,
        // status, all strings) per organisation, plus the v2 record: version stamp, tombstone,
        // templates (envelopes only), validity, and seq, the change number the pull cursor follows.
        createTable: {
          name: 'people',
          primaryKey: ['org_id', 'id'],
          columns: [
            text('org_id', true),
            text('id', true),
            text('name', true),
            text('status', true),
            text('model_mode', true, ''),
            text('enrolled_at', true),
            text('encrypted_envelope_json'),
            text('external_id'),
            text('valid_from'),
            text('valid_until'),
            text('schedule_json'),
            text('notes'),
            text('templates_json', true, '[]'),
            text('photo_json'),
            big('version', true),
            text('updated_at', true),
            text('origin_unit', true),
            int('deleted', true, 0),
            text('deleted_at'),
            // The device that sent this version (unit_id/origin_unit is the one that wrote it).
            text('pushed_by', true),
            big('seq', true),
            text('created_at', true),
          ],
        },
      },
      { createIndex: { name: 'people_seq', table: 'people', columns: ['org_id', 'seq'], unique: true } },
      { createIndex: { name: 'people_tombstones', table: 'people', columns: ['org_id', 'deleted', 'deleted_at'] } },
      {
        // The original's attendance table (id, person_id, timestamp, status, punctuality) per
        // organisation, plus which unit sent it, when it arrived, the time normalised to UTC for
        // range queries, and seq for an incremental export. No foreign key to people: attendance
        // outlives a deleted person, and may arrive before the person does.
        createTable: {
          name: 'attendance',
          primaryKey: ['org_id', 'id'],
          columns: [
            text('org_id', true),
            text('id', true),
            text('person_id', true),
            text('timestamp', true),
            text('status', true),
            text('punctuality'),
            text('ts_utc', true),
            text('unit_id', true),
            text('received_at', true),
            big('seq', true),
          ],
        },
      },
      { createIndex: { name: 'attendance_ts', table: 'attendance', columns: ['org_id', 'ts_utc', 'id'] } },
      { createIndex: { name: 'attendance_unit_ts', table: 'attendance', columns: ['org_id', 'unit_id', 'ts_utc'] } },
      { createIndex: { name: 'attendance_seq', table: 'attendance', columns: ['org_id', 'seq', 'id'] } },
    ],
  },
];
