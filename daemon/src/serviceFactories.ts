import type { ServiceFactory } from './controller.js';
import { accessFactory, cameraFactory, visionFactory, watchdogFactory } from './access/runtime.js';
import { createAdminApi } from './admin/adminApi.js';
import { MqttService } from './mqtt/mqttService.js';
import { RetentionService } from './store/retention.js';

/**
 * The services `blinkd run` starts after the door, in this order (stopped in reverse).
 * Data flows one way: camera → vision → access (decision) → door / events / store,
 * with MQTT, sync and the admin API listening on the bus.
 */
export const SERVICE_FACTORIES: ServiceFactory[] = [
  cameraFactory,
  visionFactory, // the VisionService, remembered for access
  accessFactory,
  (ctx) => new MqttService(ctx),
  (ctx) => new RetentionService(ctx.store, ctx.config, ctx.log.child({ component: 'retention' })),
  createAdminApi,
  watchdogFactory, // systemd READY/WATCHDOG/STATUS/STOPPING: last, it reports on all of the above
];
