import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

export interface Seen {
  topic: string;
  text: string;
  retain: boolean;
  at: number;
}

export interface Watcher {
  client: MqttClient;
  seen: Seen[];
  /** Resolves with the first message (already seen or future) matching pred. */
  waitFor(pred: (m: Seen) => boolean, timeoutMs?: number, what?: string): Promise<Seen>;
  /** Resolves once `count` messages match pred. */
  waitForCount(pred: (m: Seen) => boolean, count: number, timeoutMs?: number): Promise<Seen[]>;
  close(): Promise<void>;
}

/** A test-side MQTT client that records every message on `filters`. */
export async function watch(url: string, filters: string[], options: IClientOptions = {}): Promise<Watcher> {
  const client = await connectAsync(url, { reconnectPeriod: 200, connectTimeout: 5000, ...options });
  const seen: Seen[] = [];
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload, packet) => {
    seen.push({ topic, text: payload.toString('utf8'), retain: packet.retain, at: Date.now() });
    for (const w of [...waiters]) w();
  });
  await client.subscribeAsync(filters.map((f) => ({ [f]: { qos: 1 as const } })).reduce((a, b) => ({ ...a, ...b }), {}));
  const waitForCount = (pred: (m: Seen) => boolean, count: number, timeoutMs = 15_000): Promise<Seen[]> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hits = seen.filter(pred);
        if (hits.length < count) return false;
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(check), 1);
        resolve(hits);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(
          new Error(`only ${seen.filter(pred).length} of ${count} expected messages within ${timeoutMs} ms; last seen: ${JSON.stringify(seen.slice(-5))}`),
        );
      }, timeoutMs);
      waiters.push(check);
      check();
    });
  return {
    client,
    seen,
    waitFor: async (pred, timeoutMs = 15_000) => (await waitForCount(pred, 1, timeoutMs))[0]!,
    waitForCount,
    close: async () => {
      await client.endAsync(true);
    },
  };
}

/** Parses a JSON payload (throws with the text if it is not JSON). */
export function json(m: Seen): Record<string, unknown> {
  try {
    return JSON.parse(m.text) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON on ${m.topic}: ${m.text}`);
  }
}
