import type { IPublishPacket } from 'mqtt';
import type { CommandDispatcher } from '../commands/dispatcher.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logging.js';
import type { AuditRepo } from '../store/auditRepo.js';
import { privilegeOf } from './commandAuthority.js';
import { CommandBudget, RefusalRecorder } from './commandFlood.js';
import { parseCommand } from './commandParser.js';
import { commandRefusal } from './commandRules.js';
import { decodeEd25519PublicKey, decodeHmacKey, NonceMemory, verifyEnvelope, type CommandKeys } from './commandSignature.js';
import type { MqttConnection } from './connection.js';
import type { Topics } from './topics.js';

export interface CommandIntakeDeps {
  config: Config['mqtt'];
  unitId: string;
  connection: MqttConnection;
  topics: Topics;
  dispatcher: CommandDispatcher;
  audit: AuditRepo;
  log: Logger;
  now?: () => number;
}

/**
 * Commands arriving on `<base>/<name>/set`: within the per-minute budget, parsed
 * (commandParser.ts), checked against the staleness rule (commandRules.ts) and for authority —
 * a command that opens the door or weakens its mode (commandAuthority.ts) needs a valid signature
 * (commandSignature.ts) unless the installation allowed it unsigned — then carried to the
 * dispatcher, which runs the one command table and audits. Every outcome is answered on
 * `<base>/response` (echoing the request's id), refusals also on `<base>/error`; beyond a few a
 * minute, refusals are only counted (one summary audit entry) and not answered.
 */
export class MqttCommandIntake {
  /** Set once the broker acknowledged this connection's command subscription. */
  private subscriptionConfirmed = false;
  private readonly keys: CommandKeys;
  private readonly nonces = new NonceMemory();
  private readonly budget: CommandBudget;
  private readonly refusals: RefusalRecorder;
  private readonly startedAt: number;
  private flushTimer: NodeJS.Timeout | null = null;
  commands = 0;

  constructor(private readonly d: CommandIntakeDeps) {
    const now = d.now ?? Date.now;
    this.startedAt = now();
    const c = d.config.commands;
    this.keys = { hmac: decodeHmacKey(c.hmacKey), ed25519: c.ed25519PublicKeys.map(decodeEd25519PublicKey) };
    this.budget = new CommandBudget(() => d.config.commands.maxPerMinute, now);
    this.refusals = new RefusalRecorder(d.audit, d.log, 30, now);
    d.connection.on({
      connected: (_connack, connection) => this.subscribe(connection),
      closed: () => void (this.subscriptionConfirmed = false),
      message: (topic, payload, packet) => this.onMessage(topic, payload, packet),
    });
  }

  /** Warns (every start) when door-opening commands are accepted unsigned; starts the minute summary of refusals. */
  start(): void {
    const unsigned = this.d.config.commands.allowUnsigned;
    if (unsigned.length) {
      this.d.log.warn(
        { allowUnsigned: unsigned },
        `MQTT: ${unsigned.join(', ')} accepted WITHOUT a signature (mqtt.commands.allowUnsigned): anyone who can publish to this unit's command topics can do that; the broker's ACL is the only protection`,
      );
    }
    this.flushTimer = setInterval(() => this.refusals.flush(), 60_000);
    this.flushTimer.unref();
  }

  stop(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    this.refusals.flush();
  }

  /** Plain words for the health page when the unit accepts door-opening commands without a signature. */
  warnings(): string[] {
    const unsigned = this.d.config.commands.allowUnsigned;
    return unsigned.length ? [`MQTT accepts ${unsigned.join(', ')} without a signature (mqtt.commands.allowUnsigned)`] : [];
  }

  health(): Record<string, unknown> {
    const c = this.d.config.commands;
    return {
      commandsLive: this.subscriptionConfirmed,
      commands: this.commands,
      rejectedCommands: this.refusals.total,
      authorization: { hmac: this.keys.hmac !== null, ed25519Keys: this.keys.ed25519.length, allowUnsigned: c.allowUnsigned },
    };
  }

  private subscribe(connection: number): void {
    const { connection: conn, topics, config, log } = this.d;
    this.subscriptionConfirmed = false;
    // Commands: QoS 0 (nothing for the broker to queue while we are away), and on MQTT 5 retain
    // handling 2 (never send retained commands).
    conn.subscribe(topics.commandFilter, { qos: 0, ...(config.protocolVersion === 5 ? { rh: 2 } : {}) }, (err) => {
      if (err) {
        conn.lastError = `subscribe ${topics.commandFilter}: ${err.message}`;
        log.error({ err: err.message }, 'MQTT command subscription failed');
        return;
      }
      if (connection === conn.current) this.subscriptionConfirmed = true;
      log.info({ topic: topics.commandFilter, connection }, 'MQTT commands live');
    });
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const name = this.d.topics.commandOf(topic);
    if (name === null) return;
    void this.handle(topic, name, payload, packet).catch((err: unknown) => this.d.log.error({ err, topic }, 'MQTT command failed'));
  }

  private async handle(topic: string, name: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    const { config, dispatcher, log } = this.d;
    const actor = `mqtt:${topic}`;
    this.commands += 1;
    const refuse = (error: string, id: string | null) => {
      const full = this.refusals.refused(actor, name, error, { retained: packet.retain, payload: payload.subarray(0, 200).toString('utf8') });
      if (full) this.reply(topic, name, id, payload, { ok: false, error });
    };
    if (!this.budget.take()) return refuse(`more than mqtt.commands.maxPerMinute (${config.commands.maxPerMinute}) commands this minute: refused unread`, null);
    const parsed = parseCommand(name, payload);
    const now = (this.d.now ?? Date.now)();
    const rule = commandRefusal(
      { retained: packet.retain, subscriptionConfirmed: this.subscriptionConfirmed, receivedAt: now },
      parsed,
      config.commandMaxAgeSec,
    );
    if (rule !== null || !parsed.ok) return refuse(rule ?? 'invalid command', parsed.id);
    const authority = this.authorityRefusal(name, parsed, now);
    if (authority) return refuse(authority, parsed.id);
    const result = await dispatcher.dispatch(parsed.command, { actor, via: 'mqtt' });
    log.info({ topic, command: parsed.command, ok: result.ok, error: result.error }, 'MQTT command');
    this.reply(topic, name, parsed.id, payload, result);
  }

  /** Why a parsed command lacks the authority it needs, or null. A signature, when present, must be valid on any command. */
  private authorityRefusal(name: string, parsed: Extract<ReturnType<typeof parseCommand>, { ok: true }>, now: number): string | null {
    const privilege = privilegeOf(parsed.command);
    if (parsed.signed.sig) {
      return verifyEnvelope(parsed.signed, {
        unitId: this.d.unitId,
        name,
        keys: this.keys,
        now,
        maxAgeSec: this.d.config.commandMaxAgeSec,
        startedAt: this.startedAt,
        nonces: this.nonces,
      });
    }
    if (privilege && !this.d.config.commands.allowUnsigned.includes(privilege)) {
      return `"${name}" opens the door or weakens its mode (${privilege}): it must be signed (see docs/MQTT.md, Security), or allowed unsigned in mqtt.commands.allowUnsigned`;
    }
    return null;
  }

  private reply(
    topic: string,
    command: string,
    id: string | null,
    payload: Buffer,
    result: { ok: boolean; error?: string; detail?: Record<string, unknown> },
  ): void {
    const { connection, topics } = this.d;
    const body = {
      ts: new Date().toISOString(),
      topic,
      command,
      id,
      ok: result.ok,
      ...(result.error ? { error: result.error } : {}),
      ...(result.detail ? { detail: result.detail } : {}),
      payload: payload.subarray(0, 200).toString('utf8'),
    };
    connection.publish(topics.response, JSON.stringify(body), { qos: 1, retain: false });
    if (!result.ok) connection.publish(topics.error, JSON.stringify(body), { qos: 1, retain: false });
  }
}
