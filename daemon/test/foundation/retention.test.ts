import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { pruneDecisions, RetentionService } from '../../src/store/retention.js';
import { parseConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { PeopleTable } from '../../src/registry/peopleTable.js';
import { tempDir } from '../helpers/blinkd.js';

describe('retention', () => {
  it('prunes the audit log after store.auditRetentionDays (it grew forever) and audits the pruning itself', () => {
    const t = tempDir();
    const s = Store.open(join(t.dir, 'blink.db'));
    try {
      for (let i = 0; i < 50; i++) s.audit.record('mqtt:x', 'mqtt.command_rejected', 'unlock', { i });
      const config = parseConfig({ store: { auditRetentionDays: 90 } }, 'test');
      const at = (days: number) => () => new Date(Date.now() + days * 86_400_000);
      const soon = new RetentionService(s, config, new EventBus(), createLogger('silent'), [], at(89));
      expect(soon.run().audit_log).toBe(0);
      expect(s.audit.recent(1000)).toHaveLength(50);
      const later = new RetentionService(s, config, new EventBus(), createLogger('silent'), [], at(91));
      expect(later.run().audit_log).toBe(50);
      const left = s.audit.recent(1000);
      expect(left.map((a) => a.action)).toEqual(['audit.pruned']);
      expect(left[0]!.details).toMatchObject({ entries: 50, retentionDays: 90 });
    } finally {
      s.close();
      t.cleanup();
    }
  });

  it('deletes events and attendance older than the retention, keeps newer ones and anything unsynced', () => {
    const t = tempDir();
    const s = Store.open(join(t.dir, 'blink.db'));
    try {
      const now = new Date('2026-06-01T12:00:00Z');
      const old = '2025-01-01T08:00:00.000Z';
      const recent = '2026-05-30T08:00:00.000Z';
      const p = new PeopleTable(s.db).create({ name: 'Ada' });
      const e1 = s.events.insert({ ts: old, result: 'GRANTED', reason: 'match', personId: p.id });
      s.attendance.add({ personId: p.id, day: '2025-01-01', kind: 'CHECK_IN', status: 'ON_TIME', ts: old, eventId: e1.id });
      s.events.insert({ ts: old, result: 'DENIED', reason: 'unknown' });
      const pending = s.events.insert({ ts: old, result: 'DENIED', reason: 'unknown' });
      s.syncOutbox.enqueue('event', pending.id, '{}');
      const e4 = s.events.insert({ ts: recent, result: 'GRANTED', reason: 'match', personId: p.id });
      s.attendance.add({ personId: p.id, day: '2026-05-30', kind: 'CHECK_IN', status: 'LATE', ts: recent, eventId: e4.id });

      // With sync on, unsynced attendance (and its event) waits for the relay.
      expect(pruneDecisions(s, 365, { syncEnabled: true, now })).toMatchObject({ events: 1, attendance: 0 });
      expect(s.events.get(e1.id)).toBeDefined();
      // With sync off, age alone decides; the event queued for sync still stays.
      expect(pruneDecisions(s, 365, { syncEnabled: false, now })).toMatchObject({ events: 1, attendance: 1 });
      expect(s.events.get(e1.id)).toBeUndefined();
      expect(s.events.get(pending.id)).toBeDefined();
      expect(s.events.get(e4.id)).toBeDefined();
      expect(s.attendance.query()).toHaveLength(1);
    } finally {
      s.close();
      t.cleanup();
    }
  });
});
