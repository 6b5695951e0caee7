import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { AccessFeed } from '../../src/mqtt/accessFeed.js';
import { BoundedOutbox } from '../../src/mqtt/boundedOutbox.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/blinkd.js';

const log = createLogger('silent');

describe('MQTT outbox bound and access cursor (SQLite file)', () => {
  let t: ReturnType<typeof tempDir>;
  let store: Store;

  beforeEach(() => {
    t = tempDir('blink-outbox-');
    store = Store.open(join(t.dir, 'blink.db'));
  });
  afterEach(() => {
    store.close();
    t.cleanup();
  });

  const kinds = () => (store.db.prepare('SELECT kind FROM mqtt_outbox ORDER BY seq').all() as Array<{ kind: string }>).map((r) => r.kind);
  const decide = (n: number) => {
    for (let i = 0; i < n; i++) store.events.insert({ result: 'DENIED', reason: 'unknown' });
  };

  it('when full, drops the oldest health first, then state; never access; a new health that does not fit is dropped', () => {
    const outbox = new BoundedOutbox(store, 5, log);
    outbox.recount();
    outbox.enqueue('health', 'h', 'h1', false);
    outbox.enqueue('state', 's', 's1', true);
    outbox.enqueue('health', 'h', 'h2', false);
    outbox.enqueue('state', 's', 's2', true);
    outbox.enqueue('alarm', 'a', 'a1', false);
    expect(outbox.depth()).toBe(5);
    outbox.enqueue('alarm', 'a', 'a2', false); // drops h1
    expect(kinds()).toEqual(['state', 'health', 'state', 'alarm', 'alarm']);
    outbox.enqueue('state', 's', 's3', true); // drops h2
    outbox.enqueue('state', 's', 's4', true); // drops s1
    expect(kinds()).toEqual(['state', 'alarm', 'alarm', 'state', 'state']);
    expect(outbox.dropped).toEqual({ health: 2, state: 1 });

    decide(10);
    const feed = new AccessFeed(store, outbox, 'blink/u/access', 'u');
    store.db.prepare('INSERT INTO mqtt_cursor (name, seq, updated_at) VALUES (?, 0, ?)').run('access_events', new Date().toISOString());
    // Room is made by dropping the three state rows; the two alarms stay; the rest of the decisions wait in access_events.
    expect(feed.catchUp()).toBe(3);
    expect(kinds()).toEqual(['alarm', 'alarm', 'access', 'access', 'access']);
    expect(feed.pending()).toBe(7);
    expect(outbox.enqueue('health', 'h', 'h3', false)).toBe(false);
    expect(outbox.dropped.health).toBe(3);
    expect(kinds()).toEqual(['alarm', 'alarm', 'access', 'access', 'access']);

    // As the broker acknowledges, the waiting decisions move in, in order.
    const rows = store.mqttOutbox.peek(5);
    outbox.ack(rows.map((r) => r.seq));
    expect(feed.catchUp()).toBe(5);
    expect(feed.catchUp()).toBe(0);
    const seqs = store.mqttOutbox.peek(10).map((r) => (JSON.parse(r.payload) as { seq: number }).seq);
    expect(seqs).toEqual([4, 5, 6, 7, 8]);
  });

  it('starts from the newest event the first time and keeps its mark across a reopen', () => {
    decide(3);
    const outbox = new BoundedOutbox(store, 1000, log);
    const feed = new AccessFeed(store, outbox, 'blink/u/access', 'u');
    expect(feed.init()).toBe(3);
    expect(feed.catchUp()).toBe(0);
    decide(2);
    store.close();
    store = Store.open(join(t.dir, 'blink.db'));
    const again = new AccessFeed(store, new BoundedOutbox(store, 1000, log), 'blink/u/access', 'u');
    expect(again.init()).toBe(3);
    expect(again.catchUp()).toBe(2);
    expect(again.mark()).toBe(5);
  });
});
