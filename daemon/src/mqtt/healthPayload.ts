import { cpuTemperatureC, systemHealth } from '../system/health.js';

type Json = Record<string, unknown>;

function numberAt(obj: unknown, path: string[]): number | null {
  let node: unknown = obj;
  for (const key of path) {
    if (!node || typeof node !== 'object') return null;
    node = (node as Json)[key];
  }
  return typeof node === 'number' && Number.isFinite(node) ? node : null;
}

/** The sync service's state as /health reports it (sync/syncService.ts), reduced for a fleet; null when sync is off. */
function syncSummary(sync: unknown): Json | null {
  if (!sync || typeof sync !== 'object') return null;
  const s = sync as Json;
  const err = s.lastError as { kind?: unknown; message?: unknown } | null | undefined;
  return {
    connected: s.connected ?? null,
    device: s.device ?? null,
    lastSuccessAt: s.lastSuccessAt ?? null,
    lastError: err ? `${String(err.kind)}: ${String(err.message)}` : null,
    pending: s.pending ?? null,
    reenrollmentNeeded: s.reenrollmentNeeded ?? null,
  };
}

/**
 * `<base>/health`: the unit's own /health report (the same numbers the admin shows)
 * reduced to what a fleet needs:
 * frame rate, decision latency, CPU temperature, memory, outbox depth, service states.
 * Values a unit cannot measure (no camera yet, no thermal zone) are null.
 */
export async function unitHealthPayload(health: () => Json, extra: { unit: string; mqtt: Json; outbox: Json }): Promise<string> {
  let report: Json | null = null;
  try {
    report = health();
  } catch {
    report = null;
  }
  const services = (report?.services ?? null) as Json | null;
  const system = (report?.system as Json | undefined) ?? systemHealth();
  const statuses = services ? Object.fromEntries(Object.entries(services).map(([k, v]) => [k, (v as Json)?.status ?? null])) : null;
  return JSON.stringify({
    ts: new Date().toISOString(),
    unit: extra.unit,
    status: report?.status ?? null,
    alarms: report?.alarms ?? null,
    uptimeSec: Math.round(process.uptime()),
    // Analysed frames per second and capture → vision-result latency of the newest frame.
    fps: numberAt(services, ['access', 'frameLoop', 'fps']) ?? numberAt(services, ['camera', 'fps']),
    latencyMs: numberAt(services, ['access', 'frameLoop', 'lastLatencyMs']),
    temperatureC: cpuTemperatureC(),
    load: system.load ?? null,
    memory: system.memory ?? null,
    outbox: extra.outbox,
    mqtt: extra.mqtt,
    services: statuses,
    sync: syncSummary(services?.sync),
  });
}
