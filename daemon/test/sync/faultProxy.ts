/**
 * A loopback TCP proxy that misbehaves on purpose: it forwards bytes between a client and the
 * sync server, and on a seeded schedule drops a connection as the answer comes back (the
 * server did the work, the client never hears) or stalls one (nothing moves any more).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  port: number;
  url: string;
  stats: { connections: number; dropped: number; stalled: number };
  /** Probabilities per server→client chunk; set both to 0 to heal the network. */
  set(p: { drop: number; stall: number }): void;
  close(): Promise<void>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(targetPort: number, options: { drop: number; stall: number; seed?: number }): Promise<FaultProxy> {
  const random = mulberry32(options.seed ?? 12345);
  let p = { drop: options.drop, stall: options.stall };
  const stats = { connections: 0, dropped: 0, stalled: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    stats.connections++;
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client);
    sockets.add(upstream);
    let stalled = false;
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d) => {
      if (!stalled) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (stalled) return;
      const r = random();
      if (r < p.drop) {
        stats.dropped++;
        return end();
      }
      if (r < p.drop + p.stall) {
        stats.stalled++;
        stalled = true; // hold the connection open, forward nothing
        return;
      }
      client.write(d);
    });
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', () => {
      if (!stalled) end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stats,
    set(next) {
      p = next;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
