import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { Config } from '../config/schema.js';
import type { ServiceStatus } from '../events.js';
import type { Service } from '../service.js';
import { systemHealth } from './health.js';
import { packageVersion } from './paths.js';

export interface HealthReport {
  httpStatus: number;
  body: Record<string, unknown>;
}

/**
 * The unit's health as GET /health serves it (the original API's shape: `status`, `engine`) plus
 * each service's state and details, the active alarms (from the AlarmRegistry) and the machine.
 * healthy: every service running; degraded: one is degraded or starting; unhealthy (503): one failed.
 */
export function healthReport(services: readonly Service[], config: Config, alarms: AlarmRegistry, startedAt: number): HealthReport {
  const states: ServiceStatus[] = services.map((s) => s.status());
  const status = states.some((s) => s === 'failed') ? 'unhealthy' : states.some((s) => s === 'degraded' || s === 'starting') ? 'degraded' : 'healthy';
  const details: Record<string, unknown> = {};
  for (const s of services) {
    try {
      details[s.name] = { status: s.status(), ...(s.health?.() ?? {}) };
    } catch (err) {
      details[s.name] = { status: s.status(), error: (err as Error).message };
    }
  }
  const vision = details.vision as { engine?: unknown } | undefined;
  // What an operator should know about the unit's configuration (e.g. door-opening commands accepted unsigned).
  const warnings = Object.values(details).flatMap((d) => ((d as { warnings?: unknown }).warnings as string[] | undefined) ?? []);
  return {
    httpStatus: status === 'unhealthy' ? 503 : 200,
    body: {
      status,
      engine: vision?.engine ?? {
        runtime: 'onnxruntime-node',
        recognitionModel: config.vision.recognitionModel,
        precision: config.vision.precision,
        loaded: false,
      },
      version: packageVersion(),
      unit: { id: config.unit.id, name: config.unit.name },
      uptimeSec: Math.round((Date.now() - startedAt) / 1000),
      timestamp: new Date().toISOString(),
      alarms: alarms.active(),
      warnings,
      services: details,
      system: systemHealth(),
    },
  };
}
