import { connect as mqttConnect, type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logging.js';
import { backoffDelay } from '../util/backoff.js';
import { redactUrl } from '../util/redactUrl.js';
import { settleWithin } from '../util/timeout.js';
import { clientOptions } from './clientOptions.js';
import type { Topics } from './topics.js';

export type ConnectFn = (url: string, options: IClientOptions) => MqttClient;

/** How long close() waits for the broker to acknowledge the retained `offline`. */
const STOP_PUBLISH_MS = 1000;

export interface ConnectionEvents {
  /** A connection is up (sessionPresent: the broker kept our session). */
  connected(connack: IConnackPacket, connection: number): void;
  /** The connection went down (publishes in flight were failed). */
  closed(): void;
  message(topic: string, payload: Buffer, packet: IPublishPacket): void;
}

/**
 * The unit's connection to the broker: connect with the unit's client options (persistent
 * session, last will = retained `offline`), retained `online` on every connect, reconnects with
 * exponential backoff (ours, not MQTT.js's fixed period), QoS 1 publishes that resolve on PUBACK
 * and fail when the connection drops (their outbox rows stay and are sent again). Knows nothing
 * of what is published or what commands mean.
 */
export class MqttConnection {
  private client: MqttClient | null = null;
  private connected_ = false;
  private connection = 0;
  private closing = false;
  private reconnectAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<{ reject: (err: Error) => void }>();
  private readonly handlers: ConnectionEvents[] = [];
  connects = 0;
  lastError: string | null = null;

  constructor(
    private readonly config: Config['mqtt'],
    private readonly unitId: string,
    private readonly topics: Topics,
    private readonly log: Logger,
    private readonly connectFn: ConnectFn = mqttConnect,
  ) {}

  on(handler: ConnectionEvents): void {
    this.handlers.push(handler);
  }

  get isConnected(): boolean {
    return this.connected_;
  }

  /** Starts connecting (returns at once). Throws only for a configuration problem (an unreadable TLS file). */
  open(): void {
    const options = clientOptions(this.config, this.unitId, this.topics.status);
    // Reconnects are ours (exponential backoff); MQTT.js would retry at a fixed period.
    options.reconnectPeriod = 0;
    this.closing = false;
    this.reconnectAttempts = 0;
    this.log.info(
      { url: redactUrl(this.config.url), clientId: options.clientId, protocolVersion: this.config.protocolVersion, base: this.topics.base },
      'MQTT connecting',
    );
    const client = (this.client = this.connectFn(this.config.url, options));
    client.on('connect', (connack) => this.onConnect(connack));
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      this.lastError = err.message;
      this.log.debug({ err: err.message }, 'MQTT connection error');
    });
    client.on('message', (topic, payload, packet) => {
      for (const h of this.handlers) h.message(topic, payload, packet);
    });
  }

  /** Publishes the retained `offline` (bounded wait) and ends the connection. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    if (client) {
      if (this.connected_) await settleWithin(client.publishAsync(this.topics.status, 'offline', { qos: 1, retain: true }), STOP_PUBLISH_MS);
      await settleWithin(new Promise<void>((resolve) => client.end(true, {}, () => resolve())), STOP_PUBLISH_MS);
    }
    this.failPending(new Error('MQTT service stopped'));
    this.client = null;
    this.connected_ = false;
  }

  /** One QoS 1 message; resolves on PUBACK, rejects if the connection goes first. */
  publishAcked(topic: string, payload: string, options: { qos: 0 | 1 | 2; retain: boolean }): Promise<void> {
    const client = this.client;
    if (!client || !this.connected_) return Promise.reject(new Error('MQTT not connected'));
    return new Promise<void>((resolve, reject) => {
      const entry = {
        reject: (err: Error) => {
          this.pending.delete(entry);
          reject(err);
        },
      };
      this.pending.add(entry);
      client.publish(topic, payload, options, (err) => {
        if (!this.pending.has(entry)) return;
        this.pending.delete(entry);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Fire and forget (snapshots recomputed on the next connect anyway: stats, discovery, replies). */
  publish(topic: string, payload: string, options: { qos: 0 | 1 | 2; retain: boolean }): void {
    if (this.client && this.connected_) this.client.publish(topic, payload, options);
  }

  subscribe(filter: string, options: { qos: 0 | 1 | 2; rh?: number }, done: (err: Error | null) => void = () => {}): void {
    if (!this.client) return;
    this.client.subscribe(filter, options, (err) => done(err ?? null));
  }

  /** The connection number of the current connection (increments on each connect). */
  get current(): number {
    return this.connection;
  }

  private onConnect(connack: IConnackPacket): void {
    const client = this.client;
    if (!client || this.closing) return;
    this.connected_ = true;
    const connection = ++this.connection;
    this.connects += 1;
    this.reconnectAttempts = 0;
    this.log.info({ sessionPresent: connack.sessionPresent, connection }, 'MQTT connected');
    client.publish(this.topics.status, 'online', { qos: 1, retain: true });
    for (const h of this.handlers) h.connected(connack, connection);
  }

  private onClose(): void {
    const wasConnected = this.connected_;
    this.connected_ = false;
    // Publishes in flight on the lost connection: their rows stay in the outbox and are sent again.
    this.failPending(new Error('MQTT connection lost'));
    if (this.closing || !this.client) return;
    for (const h of this.handlers) h.closed();
    if (this.reconnectTimer) return;
    const delay = backoffDelay(this.reconnectAttempts++, this.config.reconnectMinMs, this.config.reconnectMaxMs, 'proportional');
    if (wasConnected) this.log.warn({ retryInMs: delay }, 'MQTT connection lost');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closing && this.client && !this.connected_) this.client.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private failPending(err: Error): void {
    for (const p of [...this.pending]) p.reject(err);
    this.pending.clear();
  }
}
