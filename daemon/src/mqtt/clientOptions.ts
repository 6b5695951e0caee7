import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { Config } from '../config/schema.js';

/**
 * MQTT connection options from the `mqtt` config section: a client id per unit, clean
 * session off (MQTT 5: clean start off plus a session expiry), keepalive, the last will
 * (retained `offline` on the status topic), username/password and TLS files. Throws with
 * the key named when a TLS file cannot be read.
 */
export function clientOptions(mqtt: Config['mqtt'], unitId: string, statusTopic: string): IClientOptions {
  const readTls = (key: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const path = mqtt.tls[key];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`mqtt.tls.${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const options: IClientOptions = {
    clientId: mqtt.clientId || `blink-${unitId}`,
    protocolVersion: mqtt.protocolVersion,
    clean: false,
    keepalive: mqtt.keepaliveSec,
    reconnectPeriod: mqtt.reconnectMinMs,
    connectTimeout: 10_000,
    resubscribe: false,
    queueQoSZero: false,
    will: { topic: statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    rejectUnauthorized: mqtt.tls.rejectUnauthorized,
  };
  // MQTT 5: the broker must not send a packet larger than this (commands are a few hundred bytes).
  if (mqtt.protocolVersion === 5) options.properties = { sessionExpiryInterval: mqtt.sessionExpirySec, maximumPacketSize: mqtt.maxPacketBytes };
  if (mqtt.username) options.username = mqtt.username;
  if (mqtt.password) options.password = mqtt.password;
  const ca = readTls('ca');
  const cert = readTls('cert');
  const key = readTls('key');
  if (ca) options.ca = ca;
  if (cert) options.cert = cert;
  if (key) options.key = key;
  return options;
}
