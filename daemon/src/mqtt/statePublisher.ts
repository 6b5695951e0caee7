import type { IConnackPacket, IPublishPacket } from 'mqtt';
import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { Config } from '../config/schema.js';
import type { DoorState, EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import type { MqttOutboxRow } from '../store/outboxRepo.js';
import type { Store } from '../store/store.js';
import { packageVersion } from '../system/paths.js';
import { AccessFeed } from './accessFeed.js';
import { BoundedOutbox } from './boundedOutbox.js';
import type { MqttConnection } from './connection.js';
import { discoveryMessages, homeAssistantStatusTopic } from './homeAssistant.js';
import { unitHealthPayload } from './healthPayload.js';
import { OutboxPublisher } from './outboxPublisher.js';
import { alarmPayload, alarmStatePayload, doorStatePayload, lockStatePayload, statsPayload } from './payloads.js';
import { statsSnapshot } from './stats.js';
import type { Topics } from './topics.js';

/** How often the events table is polled for decisions the bus did not announce (another process, a missed emit). */
const CATCH_UP_POLL_MS = 5000;

export interface StatePublisherDeps {
  config: Config;
  store: Store;
  bus: EventBus;
  alarms: AlarmRegistry;
  door: () => DoorState;
  /** The unit's /health body. */
  health: () => Record<string, unknown>;
  connection: MqttConnection;
  topics: Topics;
  log: Logger;
}

/**
 * Everything the unit reports over MQTT. Decisions, door and lock state, alarms and health go
 * into the SQLite outbox first and leave it only when the broker acknowledged them; retained
 * stats and Home Assistant discovery are snapshots published directly. The active alarms are
 * read from the AlarmRegistry at start (an alarm raised before MQTT started — camera_lost at
 * boot — is in the first retained alarm/state) and followed on the bus afterwards.
 */
export class MqttStatePublisher {
  private outbox: BoundedOutbox | null = null;
  private feed: AccessFeed | null = null;
  private publisher: OutboxPublisher | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private statsTimer: NodeJS.Timeout | null = null;
  private catchUpQueued = false;
  private stopping = false;

  constructor(private readonly d: StatePublisherDeps) {
    d.connection.on({
      connected: (connack) => this.onConnected(connack),
      closed: () => {},
      message: (topic, payload, packet) => this.onMessage(topic, payload, packet),
    });
  }

  start(): void {
    const { store, topics, config, bus, log } = this.d;
    const unit = config.unit.id;
    this.stopping = false;
    const outbox = (this.outbox = new BoundedOutbox(store, config.mqtt.outboxMaxRows, log));
    outbox.recount();
    const feed = (this.feed = new AccessFeed(store, outbox, topics.access, unit));
    const mark = feed.init();
    this.publisher = new OutboxPublisher(
      store,
      outbox,
      config.mqtt.publishWindow,
      (row) => this.d.connection.publishAcked(row.topic, row.payload, { qos: row.qos, retain: row.retain }),
      () => this.d.connection.isConnected,
      (rows) => this.onDelivered(rows),
      log,
    );
    this.enqueueDoorState(this.d.door());
    this.enqueueAlarmState();
    const caughtUp = feed.catchUp();
    log.info({ outbox: outbox.depth(), accessMark: mark, caughtUp }, 'MQTT outbox ready');

    bus.on(this, 'access.decided', () => this.scheduleCatchUp());
    bus.on(this, 'door.changed', (s) => this.enqueueDoorState(s));
    bus.on(this, 'alarm', (a) => {
      outbox.enqueue('alarm', topics.alarm, alarmPayload(a, unit), false);
      this.enqueueAlarmState();
      this.publisher?.kick();
    });
    this.timers.push(
      setInterval(() => this.scheduleCatchUp(), CATCH_UP_POLL_MS),
      setInterval(() => {
        outbox.recount();
        this.publishHealth();
        this.publishStats();
      }, config.mqtt.healthIntervalSec * 1000),
    );
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    this.stopping = true;
    this.d.bus.removeListeners(this);
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.statsTimer) clearTimeout(this.statsTimer);
    this.statsTimer = null;
    this.publisher?.stop();
  }

  /** Queues a health report now (the request_health command, the periodic timer). */
  publishHealth(): void {
    const { topics, config } = this.d;
    if (!this.outbox) return;
    const c = this.d.connection;
    void unitHealthPayload(this.d.health, {
      unit: config.unit.id,
      mqtt: { connected: c.isConnected, connects: c.connects, published: this.publisher?.published ?? 0 },
      outbox: this.outboxHealth(),
    })
      .then((payload) => {
        if (this.stopping || !this.outbox || !this.d.store.db.open) return;
        this.outbox.enqueue('health', topics.health, payload, false);
        this.publisher?.kick();
      })
      .catch((err: unknown) => this.d.log.warn({ err }, 'MQTT health report failed'));
  }

  health(): Record<string, unknown> {
    return { outbox: this.outboxHealth(), published: this.publisher?.published ?? 0, lastPublishError: this.publisher?.lastError ?? null };
  }

  private outboxHealth(): Record<string, unknown> {
    return {
      depth: this.outbox?.depth() ?? 0,
      maxRows: this.d.config.mqtt.outboxMaxRows,
      accessNotYetQueued: this.feed?.pending() ?? 0,
      dropped: this.outbox?.dropped ?? {},
    };
  }

  private onConnected(connack: IConnackPacket): void {
    const { config, connection } = this.d;
    if (this.stopping) return;
    if (config.mqtt.homeAssistant.enabled) {
      connection.subscribe(homeAssistantStatusTopic(config.mqtt.homeAssistant.discoveryPrefix), { qos: 0 });
      this.publishDiscovery();
    }
    // A broker without our session may also have lost the retained state: queue it again.
    if (!connack.sessionPresent) {
      this.enqueueDoorState(this.d.door());
      this.enqueueAlarmState();
    }
    this.publishStats();
    this.publisher?.kick();
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const ha = this.d.config.mqtt.homeAssistant;
    if (!ha.enabled || topic !== homeAssistantStatusTopic(ha.discoveryPrefix)) return;
    // Home Assistant's birth message: it (re)started and needs the configs again. A retained
    // `online` seen at subscribe time is not news: discovery was just published on connect.
    if (payload.toString('utf8').trim() === 'online' && !packet.retain) this.publishDiscovery();
  }

  private onDelivered(rows: readonly MqttOutboxRow[]): void {
    if (rows.some((r) => r.kind === 'access')) this.scheduleStats();
  }

  private scheduleCatchUp(): void {
    if (this.catchUpQueued || !this.feed) return;
    this.catchUpQueued = true;
    setImmediate(() => {
      this.catchUpQueued = false;
      if (this.stopping || !this.feed || !this.d.store.db.open) return;
      try {
        if (this.feed.catchUp() > 0) this.publisher?.kick();
        else if (this.outbox && this.outbox.depth() > 0) this.publisher?.kick();
      } catch (err) {
        this.d.log.error({ err }, 'MQTT access catch-up failed; retried on the next decision or poll');
      }
    });
  }

  private enqueueDoorState(s: DoorState): void {
    if (!this.outbox) return;
    const { topics } = this.d;
    this.outbox.enqueue('state', topics.doorState, doorStatePayload(s), true);
    this.outbox.enqueue('state', topics.lockState, lockStatePayload(s), true);
    this.publisher?.kick();
  }

  private enqueueAlarmState(): void {
    if (!this.outbox) return;
    this.outbox.enqueue('state', this.d.topics.alarmState, alarmStatePayload(this.d.alarms.active(), new Date().toISOString()), true);
  }

  private scheduleStats(): void {
    if (this.statsTimer) return;
    this.statsTimer = setTimeout(() => {
      this.statsTimer = null;
      this.publishStats();
    }, 250);
    this.statsTimer.unref();
  }

  /** Retained snapshot (counts today, last person): recomputed, so published directly rather than queued. */
  private publishStats(): void {
    const { connection, topics, store, config, log } = this.d;
    if (!connection.isConnected || !store.db.open) return;
    try {
      const snapshot = statsSnapshot(store, config.unit.timezone);
      connection.publish(topics.stats, statsPayload(snapshot, new Date().toISOString()), { qos: 1, retain: true });
    } catch (err) {
      log.warn({ err }, 'MQTT stats failed');
    }
  }

  private publishDiscovery(): void {
    const { connection, topics, config, log } = this.d;
    if (!connection.isConnected) return;
    const messages = discoveryMessages(topics, {
      discoveryPrefix: config.mqtt.homeAssistant.discoveryPrefix,
      unitId: config.unit.id,
      unitName: config.unit.name,
      version: packageVersion(),
    });
    for (const m of messages) connection.publish(m.topic, m.payload, { qos: 1, retain: true });
    log.info({ entities: messages.length }, 'Home Assistant discovery published');
  }
}
