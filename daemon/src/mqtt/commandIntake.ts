import type { IPublishPacket } from 'mqtt';
import type { CommandDispatcher } from '../commands/dispatcher.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logging.js';
import type { AuditRepo } from '../store/auditRepo.js';
import { parseCommand } from './commandParser.js';
import { commandRefusal } from './commandRules.js';
import type { MqttConnection } from './connection.js';
import type { Topics } from './topics.js';

export interface CommandIntakeDeps {
  config: Config['mqtt'];
  connection: MqttConnection;
  topics: Topics;
  dispatcher: CommandDispatcher;
  audit: AuditRepo;
  log: Logger;
  now?: () => number;
}

/**
 * Commands arriving on `<base>/<name>/set`: parsed (commandParser.ts), checked against the rule
 * (commandRules.ts), then carried to the dispatcher, which runs the one command table and audits.
 * Every outcome is answered on `<base>/response` (success or refusal, echoing the request's id);
 * refusals also on `<base>/error`.
 */
export class MqttCommandIntake {
  /** Set once the broker acknowledged this connection's command subscription. */
  private subscriptionConfirmed = false;
  commands = 0;
  refused = 0;

  constructor(private readonly d: CommandIntakeDeps) {
    d.connection.on({
      connected: (_connack, connection) => this.subscribe(connection),
      closed: () => void (this.subscriptionConfirmed = false),
      message: (topic, payload, packet) => this.onMessage(topic, payload, packet),
    });
  }

  health(): Record<string, unknown> {
    return { commandsLive: this.subscriptionConfirmed, commands: this.commands, rejectedCommands: this.refused };
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
    const { config, dispatcher, audit, log } = this.d;
    const actor = `mqtt:${topic}`;
    const parsed = parseCommand(name, payload);
    this.commands += 1;
    const refusal = commandRefusal(
      { retained: packet.retain, subscriptionConfirmed: this.subscriptionConfirmed, receivedAt: (this.d.now ?? Date.now)() },
      parsed,
      config.commandMaxAgeSec,
    );
    if (refusal !== null || !parsed.ok) {
      const error = refusal ?? 'invalid command';
      this.refused += 1;
      audit.record(actor, 'mqtt.command_rejected', name, { via: 'mqtt', error, retained: packet.retain, payload: payload.toString('utf8').slice(0, 200) });
      log.warn({ topic, error, retained: packet.retain }, 'MQTT command refused');
      this.reply(topic, name, parsed.id, payload, { ok: false, error });
      return;
    }
    const result = await dispatcher.dispatch(parsed.command, { actor, via: 'mqtt' });
    log.info({ topic, command: parsed.command, ok: result.ok, error: result.error }, 'MQTT command');
    this.reply(topic, name, parsed.id, payload, result);
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
      payload: payload.toString('utf8').slice(0, 200),
    };
    connection.publish(topics.response, JSON.stringify(body), { qos: 1, retain: false });
    if (!result.ok) connection.publish(topics.error, JSON.stringify(body), { qos: 1, retain: false });
  }
}
