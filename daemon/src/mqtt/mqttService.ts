import type { Config } from '../config/schema.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import { redactUrl } from '../util/redactUrl.js';
import type { MqttCommandIntake } from './commandIntake.js';
import type { MqttConnection } from './connection.js';
import type { MqttStatePublisher } from './statePublisher.js';

/**
 * The fleet interface over MQTT as one service: the connection (connection.ts), what the unit
 * reports (statePublisher.ts) and the commands it takes (commandIntake.ts). See docs/MQTT.md for
 * topics, payloads and the rule that keeps stale or retained commands from acting.
 */
export class MqttService extends BaseService {
  constructor(
    private readonly config: Config['mqtt'],
    bus: EventBus,
    private readonly connection: MqttConnection,
    private readonly publisher: MqttStatePublisher,
    private readonly intake: MqttCommandIntake,
    private readonly log: Logger,
  ) {
    super('mqtt', bus);
    connection.on({
      connected: () => void (this.lifecycle = 'running'),
      closed: () => void (this.lifecycle === 'running' && (this.lifecycle = 'degraded')),
      message: () => {},
    });
  }

  protected onStart(): void {
    if (!this.config.enabled) {
      this.lifecycle = 'disabled';
      return;
    }
    this.publisher.start();
    this.intake.start();
    try {
      this.connection.open();
    } catch (err) {
      // A bad TLS path must not stop the door: MQTT stays down, the outbox keeps filling.
      this.connection.lastError = (err as Error).message;
      this.log.error({ err: this.connection.lastError }, 'MQTT not started: configuration problem');
      this.lifecycle = 'failed';
      return;
    }
    this.lifecycle = 'degraded'; // running once connected
  }

  protected override async onStop(): Promise<void> {
    this.intake.stop();
    this.publisher.stop();
    await this.connection.close();
  }

  health(): Record<string, unknown> {
    if (!this.config.enabled) return { enabled: false };
    return {
      url: redactUrl(this.config.url),
      connected: this.connection.isConnected,
      connects: this.connection.connects,
      ...this.publisher.health(),
      ...this.intake.health(),
      warnings: this.intake.warnings(),
      lastError: this.connection.lastError ?? (this.publisher.health().lastPublishError as string | null) ?? null,
    };
  }
}
