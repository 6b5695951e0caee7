import type { ServiceStatus } from './events.js';

/**
 * A long-running part of blinkd. The constructor only stores collaborators; all I/O
 * happens in start(). stop() must be safe to call in any state and must not throw.
 */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): ServiceStatus;
  /** Service-specific health details for /health and MQTT. */
  health?(): Record<string, unknown>;
}
