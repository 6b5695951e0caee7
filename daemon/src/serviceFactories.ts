import type { ServiceFactory } from './controller.js';
import { VisionService } from './vision/visionService.js';
import { createAdminApi } from './admin/adminApi.js';
import { MqttService } from './mqtt/mqttService.js';

/**
 * The services `blinkd run` starts after the door, in this order (stopped in reverse).
 * Data flows one way: camera → vision → access (decision) → door / events / store,
 * with MQTT, sync and the admin API listening on the bus.
 */
export const SERVICE_FACTORIES: ServiceFactory[] = [
  (ctx) => new VisionService(ctx),
  (ctx) => new MqttService(ctx),
  createAdminApi,
];
