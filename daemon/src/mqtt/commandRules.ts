import type { ParsedCommand } from './commandParser.js';

/** What the intake knows about a command message besides its payload. */
export interface CommandMessage {
  /** The MQTT retain flag as delivered. */
  retained: boolean;
  /** Did the broker acknowledge this connection's command subscription before the message arrived? */
  subscriptionConfirmed: boolean;
  /** When it arrived (ms since the epoch). */
  receivedAt: number;
}

/**
 * The rule for commands (docs/MQTT.md, "Commands are never acted on stale"), as a pure function:
 *   1. a message with the retain flag is ignored: a retained UNLOCK must not open the door
 *      whenever the unit (re)subscribes, e.g. after a reboot;
 *   2. a message that arrives before the broker acknowledged this connection's command
 *      subscription is ignored: with clean session off it can only be a command the broker held
 *      for our session while we were away (brokers that queue QoS 0, e.g. EMQX, or Mosquitto with
 *      queue_qos0_messages);
 *   3. a payload that does not parse is refused with the parser's reason;
 *   4. a JSON payload with "ts" older than maxAgeSec (or that far in the future) is refused.
 * Returns the refusal in words, or null when the command may go to the dispatcher.
 */
export function commandRefusal(msg: CommandMessage, parsed: ParsedCommand, maxAgeSec: number): string | null {
  if (msg.retained) return 'retained commands are ignored (clear the retained message on this topic)';
  if (!msg.subscriptionConfirmed) {
    return 'command arrived before the subscription was confirmed: it was queued by the broker while the unit was offline and is ignored as stale';
  }
  if (!parsed.ok) return parsed.error;
  if (parsed.ts !== null) {
    const ageSec = (msg.receivedAt - parsed.ts) / 1000;
    if (ageSec > maxAgeSec) return `command is ${Math.round(ageSec)} s old (ts), older than mqtt.commandMaxAgeSec (${maxAgeSec} s)`;
    if (ageSec < -maxAgeSec) return `command "ts" is ${Math.round(-ageSec)} s in the future; check the sender's clock`;
  }
  return null;
}
