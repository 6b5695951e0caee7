import { connect as mqttConnect, type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import type { ServiceContext } from '../controller.js';
import type { AlarmType, DoorState, ServiceStatus } from '../events.js';
import type { Logger } from '../logging.js';
import type { Service } from '../service.js';
import type { MqttOutboxRow } from '../store/outboxRepo.js';
import { packageVersion } from '../system/paths.js';
import { AccessFeed } from './accessFeed.js';
import { BoundedOutbox } from './boundedOutbox.js';
import { clientOptions } from './clientOptions.js';
import { backoffDelay } from '../util/backoff.js';
import { redactUrl } from '../util/redactUrl.js';
import { settleWithin } from '../util/timeout.js';
import { parseCommand } from './commandParser.js';
import { discoveryMessages, homeAssistantStatusTopic } from './homeAssistant.js';
import { unitHealthPayload } from './healthPayload.js';
import { OutboxPublisher } from './outboxPublisher.js';
import { alarmPayload, alarmStatePayload, doorStatePayload, lockStatePayload, statsPayload } from './payloads.js';
import { statsSnapshot } from './stats.js';
import { Topics } from './topics.js';

export type ConnectFn = (url: string, options: IClientOptions) => MqttClient;

/** How often the events table is polled for decisions the bus did not announce (another process, a missed emit). */
const CATCH_UP_POLL_MS = 5000;
/** How long stop() waits for the broker to acknowledge the retained `offline`. */
const STOP_PUBLISH_MS = 1000;

/**
 * The fleet interface over MQTT. Everything the unit reports (decisions, door and lock
 * state, alarms, health) goes into the SQLite outbox first and leaves it only when the
 * broker acknowledged it; commands arrive on `<base>/<name>/set` and go through the
 * CommandDispatcher (which writes the audit log). See docs/MQTT.md for topics, payloads
 * and the rule that keeps stale or retained commands from acting.
 */
export class MqttService implements Service {
  readonly name = 'mqtt';
  private state_: ServiceStatus = 'stopped';
  private client: MqttClient | null = null;
  private topics: Topics | null = null;
  private outbox: BoundedOutbox | null = null;
  private feed: AccessFeed | null = null;
  private publisher: OutboxPublisher | null = null;
  private readonly unsubscribers: Array<() => void> = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private connected = false;
  /** Set once the broker acknowledged this connection's command subscription; see handleCommand. */
  private commandsLive = false;
  private connection = 0;
  private stopping = false;
  /** Reconnect attempts since the last successful connection (the backoff exponent). */
  private reconnectAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private catchUpQueued = false;
  private statsTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<{ reject: (err: Error) => void }>();
  private readonly activeAlarms = new Set<AlarmType>();
  private counters = { connects: 0, commands: 0, rejectedCommands: 0 };
  private lastError: string | null = null;
  private log: Logger;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly connectFn: ConnectFn = mqttConnect,
  ) {
    this.log = ctx.log;
  }

  async start(): Promise<void> {
    const cfg = this.ctx.config.mqtt;
    if (!cfg.enabled) {
      this.state_ = 'disabled';
      return;
    }
    this.state_ = 'starting';
    this.stopping = false;
    this.log = this.ctx.log.child({ component: 'mqtt' });
    const unit = this.ctx.config.unit.id;
    const topics = (this.topics = new Topics(cfg.topicPrefix, unit));
    const store = this.ctx.store;
    const outbox = (this.outbox = new BoundedOutbox(store, cfg.outboxMaxRows, this.log));
    outbox.recount();
    const feed = (this.feed = new AccessFeed(store, outbox, topics.access, unit));
    const mark = feed.init();
    this.publisher = new OutboxPublisher(
      store,
      outbox,
      cfg.publishWindow,
      (row) => this.publishRow(row),
      () => this.connected,
      (rows) => this.onDelivered(rows),
      this.log,
    );

    for (const a of this.ctx.door.alarms()) this.activeAlarms.add(a);
    this.enqueueDoorState(this.ctx.door.state());
    this.enqueueAlarmState();
    const caughtUp = feed.catchUp();
    this.log.info({ outbox: outbox.depth(), accessMark: mark, caughtUp }, 'MQTT outbox ready');

    const bus = this.ctx.bus;
    this.unsubscribers.push(
      bus.on('access.decided', () => this.scheduleCatchUp()),
      bus.on('door.changed', (s) => this.enqueueDoorState(s)),
      bus.on('alarm', (a) => {
        if (a.active) this.activeAlarms.add(a.type);
        else this.activeAlarms.delete(a.type);
        outbox.enqueue('alarm', topics.alarm, alarmPayload(a, unit), false);
        this.enqueueAlarmState();
        this.publisher?.kick();
      }),
      bus.on('health.requested', () => this.enqueueHealth()),
    );
    this.timers.push(
      setInterval(() => this.scheduleCatchUp(), CATCH_UP_POLL_MS),
      setInterval(() => {
        outbox.recount();
        this.enqueueHealth();
        this.publishStats();
      }, cfg.healthIntervalSec * 1000),
    );
    for (const t of this.timers) t.unref();

    let options: IClientOptions;
    try {
      options = clientOptions(cfg, unit, topics.status);
    } catch (err) {
      // A bad TLS path must not stop the door: MQTT stays down, the outbox keeps filling.
      this.lastError = (err as Error).message;
      this.log.error({ err: this.lastError }, 'MQTT not started: configuration problem');
      this.state_ = 'failed';
      return;
    }
    // Reconnects are ours (exponential backoff); MQTT.js would retry at a fixed period.
    options.reconnectPeriod = 0;
    this.reconnectAttempts = 0;
    this.log.info({ url: redactUrl(cfg.url), clientId: options.clientId, protocolVersion: cfg.protocolVersion, base: topics.base }, 'MQTT connecting');
    const client = (this.client = this.connectFn(cfg.url, options));
    client.on('connect', (connack) => this.onConnect(connack));
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      this.lastError = err.message;
      this.log.debug({ err: err.message }, 'MQTT connection error');
    });
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    this.state_ = 'degraded'; // running once connected
  }

  async stop(): Promise<void> {
    if (this.state_ === 'stopped' || this.state_ === 'disabled') return;
    this.state_ = 'stopping';
    this.stopping = true;
    for (const u of this.unsubscribers.splice(0)) u();
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.statsTimer) clearTimeout(this.statsTimer);
    this.publisher?.stop();
    const client = this.client;
    if (client) {
      if (this.connected && this.topics) {
        await settleWithin(client.publishAsync(this.topics.status, 'offline', { qos: 1, retain: true }), STOP_PUBLISH_MS);
      }
      await settleWithin(new Promise<void>((resolve) => client.end(true, {}, () => resolve())), STOP_PUBLISH_MS);
    }
    this.failPending(new Error('MQTT service stopped'));
    this.client = null;
    this.connected = false;
    this.state_ = 'stopped';
  }

  status(): ServiceStatus {
    return this.state_;
  }

  health(): Record<string, unknown> {
    if (!this.topics) return { enabled: this.ctx.config.mqtt.enabled };
    return {
      url: redactUrl(this.ctx.config.mqtt.url),
      connected: this.connected,
      base: this.topics.base,
      outbox: this.outboxHealth(),
      published: this.publisher?.published ?? 0,
      ...this.counters,
      lastError: this.lastError ?? this.publisher?.lastError ?? null,
    };
  }

  private outboxHealth(): Record<string, unknown> {
    return {
      depth: this.outbox?.depth() ?? 0,
      maxRows: this.ctx.config.mqtt.outboxMaxRows,
      accessNotYetQueued: this.feed?.pending() ?? 0,
      dropped: this.outbox?.dropped ?? {},
    };
  }

  // ---- connection ---------------------------------------------------------------------

  private onConnect(connack: IConnackPacket): void {
    const client = this.client;
    const topics = this.topics;
    if (!client || !topics || this.stopping) return;
    const cfg = this.ctx.config.mqtt;
    this.connected = true;
    this.commandsLive = false;
    const connection = ++this.connection;
    this.counters.connects += 1;
    this.reconnectAttempts = 0;
    this.state_ = 'running';
    this.log.info({ sessionPresent: connack.sessionPresent, connection }, 'MQTT connected');
    client.publish(topics.status, 'online', { qos: 1, retain: true });
    // Commands: QoS 0 (nothing for the broker to queue while we are away), and on MQTT 5
    // retain handling 2 (never send retained commands). See handleCommand for the rest.
    client.subscribe(topics.commandFilter, { qos: 0, ...(cfg.protocolVersion === 5 ? { rh: 2 } : {}) }, (err) => {
      if (err) {
        this.lastError = `subscribe ${topics.commandFilter}: ${err.message}`;
        this.log.error({ err: err.message }, 'MQTT command subscription failed');
        return;
      }
      if (connection === this.connection) this.commandsLive = true;
      this.log.info({ topic: topics.commandFilter, connection }, 'MQTT commands live');
    });
    if (cfg.homeAssistant.enabled) {
      client.subscribe(homeAssistantStatusTopic(cfg.homeAssistant.discoveryPrefix), { qos: 0 });
      this.publishDiscovery();
    }
    // A broker without our session may also have lost the retained state: queue it again.
    if (!connack.sessionPresent) {
      this.enqueueDoorState(this.ctx.door.state());
      this.enqueueAlarmState();
    }
    this.publishStats();
    this.publisher?.kick();
  }

  private onClose(): void {
    const wasConnected = this.connected;
    this.connected = false;
    this.commandsLive = false;
    // Publishes in flight on the lost connection: their rows stay in the outbox and are sent again.
    this.failPending(new Error('MQTT connection lost'));
    if (this.stopping || !this.client) return;
    if (this.state_ === 'running') this.state_ = 'degraded';
    if (this.reconnectTimer) return;
    const cfg = this.ctx.config.mqtt;
    const delay = backoffDelay(this.reconnectAttempts++, cfg.reconnectMinMs, cfg.reconnectMaxMs, 'proportional');
    if (wasConnected) this.log.warn({ retryInMs: delay }, 'MQTT connection lost');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopping && this.client && !this.connected) this.client.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private failPending(err: Error): void {
    for (const p of [...this.pending]) p.reject(err);
    this.pending.clear();
  }

  /** One outbox row to the broker; resolves on PUBACK, rejects if the connection goes first. */
  private publishRow(row: MqttOutboxRow): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error('MQTT not connected'));
    return new Promise<void>((resolve, reject) => {
      const entry = {
        reject: (err: Error) => {
          this.pending.delete(entry);
          reject(err);
        },
      };
      this.pending.add(entry);
      client.publish(row.topic, row.payload, { qos: row.qos, retain: row.retain }, (err) => {
        if (!this.pending.has(entry)) return;
        this.pending.delete(entry);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private onDelivered(rows: readonly MqttOutboxRow[]): void {
    if (rows.some((r) => r.kind === 'access')) this.scheduleStats();
  }

  // ---- what goes out ----------------------------------------------------------------------

  private scheduleCatchUp(): void {
    if (this.catchUpQueued || !this.feed) return;
    this.catchUpQueued = true;
    setImmediate(() => {
      this.catchUpQueued = false;
      if (this.stopping || !this.feed || !this.ctx.store.db.open) return;
      try {
        if (this.feed.catchUp() > 0) this.publisher?.kick();
        else if (this.outbox && this.outbox.depth() > 0) this.publisher?.kick();
      } catch (err) {
        this.log.error({ err }, 'MQTT access catch-up failed; retried on the next decision or poll');
      }
    });
  }

  private enqueueDoorState(s: DoorState): void {
    if (!this.outbox || !this.topics) return;
    this.outbox.enqueue('state', this.topics.doorState, doorStatePayload(s), true);
    this.outbox.enqueue('state', this.topics.lockState, lockStatePayload(s), true);
    this.publisher?.kick();
  }

  private enqueueAlarmState(): void {
    if (!this.outbox || !this.topics) return;
    this.outbox.enqueue('state', this.topics.alarmState, alarmStatePayload([...this.activeAlarms], new Date().toISOString()), true);
  }

  private enqueueHealth(): void {
    const topics = this.topics;
    if (!topics) return;
    void unitHealthPayload(this.ctx, {
      unit: this.ctx.config.unit.id,
      mqtt: { connected: this.connected, connects: this.counters.connects, published: this.publisher?.published ?? 0 },
      outbox: this.outboxHealth(),
    })
      .then((payload) => {
        if (this.stopping || !this.outbox || !this.ctx.store.db.open) return;
        this.outbox.enqueue('health', topics.health, payload, false);
        this.publisher?.kick();
      })
      .catch((err: unknown) => this.log.warn({ err }, 'MQTT health report failed'));
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
    if (!this.client || !this.connected || !this.topics || !this.ctx.store.db.open) return;
    try {
      const snapshot = statsSnapshot(this.ctx.store, this.ctx.config.unit.timezone);
      this.client.publish(this.topics.stats, statsPayload(snapshot, new Date().toISOString()), { qos: 1, retain: true });
    } catch (err) {
      this.log.warn({ err }, 'MQTT stats failed');
    }
  }

  private publishDiscovery(): void {
    if (!this.client || !this.connected || !this.topics) return;
    const cfg = this.ctx.config;
    const messages = discoveryMessages(this.topics, {
      discoveryPrefix: cfg.mqtt.homeAssistant.discoveryPrefix,
      unitId: cfg.unit.id,
      unitName: cfg.unit.name,
      version: packageVersion(),
    });
    for (const m of messages) this.client.publish(m.topic, m.payload, { qos: 1, retain: true });
    this.log.info({ entities: messages.length }, 'Home Assistant discovery published');
  }

  // ---- what comes in ----------------------------------------------------------------------

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const cfg = this.ctx.config.mqtt;
    if (cfg.homeAssistant.enabled && topic === homeAssistantStatusTopic(cfg.homeAssistant.discoveryPrefix)) {
      // Home Assistant's birth message: it (re)started and needs the configs again. A retained
      // `online` seen at subscribe time is not news: discovery was just published on connect.
      if (payload.toString('utf8').trim() === 'online' && !packet.retain) this.publishDiscovery();
      return;
    }
    const name = this.topics?.commandOf(topic);
    if (name === null || name === undefined) return;
    void this.handleCommand(topic, name, payload, packet).catch((err: unknown) => this.log.error({ err, topic }, 'MQTT command failed'));
  }

  /**
   * The rule for commands (docs/MQTT.md, "Commands are never acted on stale"):
   *   1. a message with the retain flag is ignored: a retained UNLOCK must not open the door
   *      whenever the unit (re)subscribes, e.g. after a reboot;
   *   2. a message that arrives before the broker acknowledged this connection's command
   *      subscription is ignored: with clean session off it can only be a command the broker
   *      held for our session while we were away (brokers that queue QoS 0, e.g. EMQX, or
   *      Mosquitto with queue_qos0_messages);
   *   3. a JSON payload with "ts" older than mqtt.commandMaxAgeSec (or that far in the
   *      future) is refused; MQTT 5 senders can also set a message expiry, which the broker
   *      enforces.
   * Every command, acted on or not, leaves an audit entry; every refusal is answered on
   * `<base>/error` and changes nothing.
   */
  private async handleCommand(topic: string, name: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    const actor = `mqtt:${topic}`;
    const parsed = parseCommand(name, payload);
    const id = parsed.id;
    this.counters.commands += 1;
    let refusal: string | null = null;
    if (packet.retain) refusal = 'retained commands are ignored (clear the retained message on this topic)';
    else if (!this.commandsLive)
      refusal = 'command arrived before the subscription was confirmed: it was queued by the broker while the unit was offline and is ignored as stale';
    else if (!parsed.ok) refusal = parsed.error;
    else if (parsed.ts !== null) {
      const ageSec = (Date.now() - parsed.ts) / 1000;
      const max = this.ctx.config.mqtt.commandMaxAgeSec;
      if (ageSec > max) refusal = `command is ${Math.round(ageSec)} s old (ts), older than mqtt.commandMaxAgeSec (${max} s)`;
      else if (ageSec < -max) refusal = `command "ts" is ${Math.round(-ageSec)} s in the future; check the sender's clock`;
    }
    if (refusal !== null || !parsed.ok) {
      const error = refusal ?? 'invalid command';
      this.counters.rejectedCommands += 1;
      this.ctx.store.audit.record(actor, 'mqtt.command_rejected', name, {
        via: 'mqtt',
        error,
        retained: packet.retain,
        payload: payload.toString('utf8').slice(0, 200),
      });
      this.log.warn({ topic, error, retained: packet.retain }, 'MQTT command refused');
      this.replyError(topic, name, error, id, payload);
      return;
    }
    const result = await this.ctx.commands.dispatch(parsed.command, { actor, via: 'mqtt' });
    this.log.info({ topic, command: parsed.command, ok: result.ok, error: result.error }, 'MQTT command');
    if (!result.ok) this.replyError(topic, name, result.error ?? 'command failed', id, payload);
  }

  private replyError(topic: string, command: string, error: string, id: string | null, payload: Buffer): void {
    if (!this.client || !this.connected || !this.topics) return;
    const body = { ts: new Date().toISOString(), topic, command, error, id, payload: payload.toString('utf8').slice(0, 200) };
    this.client.publish(this.topics.error, JSON.stringify(body), { qos: 1, retain: false });
  }
}
