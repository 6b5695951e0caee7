import { loadavg, freemem, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

/** CPU temperature in °C from the thermal zone (Pi, Jetson), or null where there is none. */
export function cpuTemperatureC(): number | null {
  try {
    const milli = Number(readFileSync('/sys/class/thermal/thermal_zone0/temp', 'utf8').trim());
    return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null;
  } catch {
    return null;
  }
}

export function systemHealth(): Record<string, unknown> {
  const mem = process.memoryUsage();
  return {
    load: loadavg().map((l) => Math.round(l * 100) / 100),
    cpuTempC: cpuTemperatureC(),
    memory: {
      rssMb: Math.round(mem.rss / 1048576),
      heapMb: Math.round(mem.heapUsed / 1048576),
      freeMb: Math.round(freemem() / 1048576),
      totalMb: Math.round(totalmem() / 1048576),
    },
    uptimeSec: Math.round(process.uptime()),
  };
}
