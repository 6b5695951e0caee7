import { join, resolve } from 'node:path';
import { AccessRecorder } from './access/recorder.js';
import { StorageService } from './store/storageService.js';
import { AccessService } from './access/accessService.js';
import { operatingPointsFor } from './access/operatingPoint.js';
import { AdminApi } from './admin/adminApi.js';
import { VisionFaceServices } from './admin/faceServicesAdapter.js';
import { HttpServer } from './admin/httpServer.js';
import { LiveTap } from './admin/liveTap.js';
import { AlarmRegistry } from './alarms/alarmRegistry.js';
import { CameraService } from './camera/cameraService.js';
import type { FrameSource } from './camera/frameSource.js';
import { commandTable } from './commands/commandTable.js';
import { CommandDispatcher } from './commands/dispatcher.js';
import type { Config } from './config/schema.js';
import { UnitSettings } from './config/unitSettings.js';
import { DoorService } from './door/doorService.js';
import type { GpioDriver } from './door/gpio/driver.js';
import { EventBus } from './events.js';
import type { Logger } from './logging.js';
import { MqttCommandIntake } from './mqtt/commandIntake.js';
import { MqttConnection, type ConnectFn } from './mqtt/connection.js';
import { MqttService } from './mqtt/mqttService.js';
import { MqttStatePublisher } from './mqtt/statePublisher.js';
import { Topics } from './mqtt/topics.js';
import { PeopleRegistry } from './registry/peopleRegistry.js';
import { Reembedder } from './registry/reembedder.js';
import { EnrollClient } from './admin/enrollClient.js';
import type { Service } from './service.js';
import { RetentionService } from './store/retention.js';
import { SyncService } from './sync/syncService.js';
import { Store } from './store/store.js';
import { healthReport, type HealthReport } from './system/healthReport.js';
import { frameLoopHealth, WatchdogService, type WatchdogProbes } from './system/watchdog.js';
import { pipelineOptions } from './vision/pipelineOptions.js';
import { VisionService } from './vision/visionService.js';

/** How long READY=1 waits for the camera's first frame before announcing anyway (with the camera reported down). */
const CAMERA_READY_TIMEOUT_MS = 20_000;

export interface UnitOptions {
  /**
   * How much of the door's frame loop runs: `full` (camera → vision → access, the default),
   * `camera` (the camera only: the admin's live view and captures without the door deciding), or
   * `none` (no camera: the admin's API tests).
   */
  runtime?: 'full' | 'camera' | 'none';
  /** Replaces the configured camera source (tests). */
  cameraSource?: () => FrameSource | null | { none: string };
  /** Replaces the GPIO driver selection (tests, bench). */
  gpioDriver?: (c: Config['door']) => GpioDriver;
  mqttConnect?: ConnectFn;
  /** The admin's clock (tests move it to end a lock-out or a session). */
  adminNow?: () => Date;
  adminUiDir?: string;
  /** The environment systemd's notify socket and watchdog are read from. */
  env?: NodeJS.ProcessEnv;
  /** Replaces fetch for the sync client (tests). */
  syncFetch?: typeof fetch;
}

/** Every part of a running unit, built and wired by buildUnit. */
export interface Unit {
  config: Config;
  settings: UnitSettings;
  bus: EventBus;
  store: Store;
  alarms: AlarmRegistry;
  registry: PeopleRegistry;
  door: DoorService;
  camera: CameraService | null;
  vision: VisionService | null;
  access: AccessService | null;
  mqtt: MqttService;
  retention: RetentionService;
  /** The sync loop with the sync server (sync.enabled), else null. */
  sync: SyncService | null;
  admin: AdminApi | null;
  http: HttpServer;
  watchdog: WatchdogService | null;
  commands: CommandDispatcher;
  /** In start order (stopped in reverse): the door first, HTTP and the watchdog last. */
  services: Service[];
  health(): HealthReport;
}

/**
 * The composition root: the one place that builds every part of `blinkd run` and hands each its
 * collaborators through its constructor. Nothing finds another part by looking it up; reading
 * this function shows how the unit is wired. Data flows one way: camera → vision → access
 * (decision) → door / store / bus, with MQTT, the admin and the watchdog reading the owners of
 * each fact (alarms, people, settings, door state).
 */
export function buildUnit(base: Config, log: Logger, o: UnitOptions = {}): Unit {
  const startedAt = Date.now();
  const bus = new EventBus();
  bus.onListenerError((err, event) => log.error({ err, event }, 'event listener failed'));
  const child = (component: string) => log.child({ component });

  // The store, then the effective configuration (file + environment + settings saved in the admin).
  const store = Store.fromConfig(base);
  const settings = UnitSettings.resolve(base, store.db, bus);
  const config = settings.config;
  if (settings.overlay.applied.length || settings.overlay.skipped.length) log.info(settings.overlay, 'settings from the admin laid over the configuration');

  // The owners of the unit's facts.
  const alarms = new AlarmRegistry(bus, child('alarms'));
  const door = new DoorService(config.door, bus, alarms, child('door'), {
    timeZone: config.unit.timezone,
    modeFile: join(resolve(config.store.dataDir), 'door-mode.json'),
    audit: (action, details) => store.audit.record('system', action, null, details),
    ...(o.gpioDriver ? { driverFactory: o.gpioDriver } : {}),
  });

  // The frame loop: camera → vision → registry (who is it) → access (decision).
  const runtime = o.runtime ?? 'full';
  const camera = runtime !== 'none' ? new CameraService(config.camera, bus, alarms, child('camera'), o.cameraSource) : null;
  const vision = runtime === 'full' ? new VisionService(config.vision, bus, child('vision'), config.access.trackMinFrames) : null;
  const registry = new PeopleRegistry(store, store.audit, bus, child('registry'), () => vision?.embedder() ?? null, config.unit.id);
  // The threshold and margin: the running embedder's calibration, access.securityLevel and the gallery size.
  const operatingPoint = operatingPointsFor(config, registry);
  // Changes of people and attendance are queued for the sync server, in their own transactions, while sync is on
  // (the flag lives in the database, so `blinkd enroll` in another process queues too).
  store.syncOutbox.setQueueing(config.sync.enabled);
  const sync = config.sync.enabled
    ? new SyncService({ config, store, registry, bus, log: child('sync'), ...(o.syncFetch ? { fetch: o.syncFetch } : {}) })
    : null;
  // Can the unit write its records (free space, failing writers): reported, alarmed, never blocking.
  const storage: StorageService = new StorageService(
    { dataDir: resolve(config.store.dataDir), minFreeMb: config.store.minFreeMb, pendingDecisions: (): number => recorder.pendingCount() },
    bus,
    alarms,
    child('storage'),
  );
  const recorder = new AccessRecorder(store, bus, config, child('access'), storage);
  const access =
    camera && vision
      ? new AccessService({
          config,
          bus,
          camera,
          analyzer: { analyze: (f) => vision.process(f) },
          registry,
          door,
          alarms,
          recorder,
          operatingPoint,
          audit: store.audit,
          log: child('access'),
        })
      : null;

  const services: Service[] = [];
  const health = () => healthReport(services, config, alarms, startedAt);

  // MQTT: the connection, what the unit reports, the commands it takes.
  const topics = new Topics(config.mqtt.topicPrefix, config.unit.id);
  const mqttLog = child('mqtt');
  const connection = new MqttConnection(config.mqtt, config.unit.id, topics, mqttLog, o.mqttConnect);
  const publisher = new MqttStatePublisher({
    config,
    store,
    bus,
    alarms,
    door: () => door.state(),
    health: () => health().body,
    connection,
    topics,
    log: mqttLog,
  });

  // One command table for the admin, MQTT and the CLI.
  const commands = new CommandDispatcher(
    commandTable({
      door,
      registry,
      config,
      healthStatus: () => String(health().body.status),
      publishHealth: () => {
        if (config.mqtt.enabled) publisher.publishHealth();
      },
    }),
    store.audit,
  );
  const intake = new MqttCommandIntake({
    config: config.mqtt,
    unitId: config.unit.id,
    connection,
    topics,
    dispatcher: commands,
    audit: store.audit,
    log: mqttLog,
  });
  const mqtt = new MqttService(config.mqtt, bus, connection, publisher, intake, mqttLog);

  // The enrollment worker (started on demand): the admin's photo analysis and the re-embedder's chips.
  const enrollPipeline = () => pipelineOptions(config.vision, { passive: false, interOpThreads: 1 });
  const enrollClient = new EnrollClient(enrollPipeline);
  // People enrolled under another embedder get templates of the running one from their stored chips.
  const reembedder = vision
    ? new Reembedder(
        registry,
        (chips) => enrollClient.embedChips(chips),
        bus,
        child('reembed'),
        () => operatingPoint.thresholds().threshold,
        () => enrollClient.stop(),
      )
    : null;

  // The admin on the HTTP server (which also serves the public /health).
  const http = new HttpServer(config.admin, bus, log, health);
  let admin: AdminApi | null = null;
  if (config.admin.enabled) {
    const live = new LiveTap(
      bus,
      registry,
      () => operatingPoint.thresholds(),
      Date.now,
      () => camera?.peek() ?? null,
    );
    const faces = new VisionFaceServices(enrollPipeline, live, enrollClient);
    admin = new AdminApi({ config, settings, store, registry, door, commands, alarms, bus, log, health, operatingPoint }, http, faces, {
      ...(o.adminNow ? { now: o.adminNow } : {}),
      ...(o.adminUiDir ? { uiDir: o.adminUiDir } : {}),
    });
  }

  const retention = new RetentionService(store, config, bus, child('retention'), [
    { name: 'face_thumbnails', prune: (now) => registry.pruneThumbnails(now, config.admin.thumbnailRetentionDays) },
    ...(admin?.prunables() ?? []),
  ]);

  // systemd READY/WATCHDOG/STATUS/STOPPING: last, it reports on all of the above.
  const probes: WatchdogProbes = {
    ready: async () => {
      // HTTP started before the watchdog (start order), or is still starting: then wait for it.
      const serving =
        http.status() === 'starting'
          ? new Promise<void>((resolve) => {
              const owner = {};
              bus.on(owner, 'service.status', (s) => {
                if (s.name !== 'http' || s.status === 'starting') return;
                bus.removeListeners(owner);
                resolve();
              });
            })
          : Promise.resolve();
      await Promise.all([serving, camera ? camera.waitUntilReady(CAMERA_READY_TIMEOUT_MS) : undefined]);
    },
    frameLoop: () => {
      if (!camera) return { ok: true };
      const snap = camera.snapshot();
      return frameLoopHealth({
        cameraState: snap.state,
        cameraDetail: snap.detail,
        lastFrameAgeMs: snap.lastFrameAgeMs,
        frozenAfterMs: config.camera.frozenAfterMs,
        loop: access?.frameLoop()?.snapshot() ?? null,
      });
    },
    statusLine: () => {
      const cam = camera?.snapshot();
      const loop = access?.frameLoop()?.snapshot();
      const cameraText = !cam || cam.state === 'none' ? 'no camera' : `camera ${cam.state} ${cam.fps} fps`;
      return `${cameraText}, vision ${loop?.fps ?? 0} fps, ${registry.count('ACTIVE')} people enrolled, door ${door.state().mode}`;
    },
  };
  const watchdog = runtime === 'full' ? new WatchdogService(probes, bus, alarms, child('systemd'), o.env) : null;

  // Start order = data-flow order; HTTP last among the servers: /health answers once everything it reports on exists.
  services.push(
    door,
    storage,
    ...(camera ? [camera] : []),
    ...(vision ? [vision] : []),
    registry,
    ...(reembedder ? [reembedder] : []),
    ...(access ? [access] : []),
    mqtt,
    ...(sync ? [sync] : []),
    retention,
    ...(admin ? [admin] : []),
    http,
  );
  if (watchdog) services.push(watchdog);

  return {
    config,
    settings,
    bus,
    store,
    alarms,
    registry,
    door,
    camera,
    vision,
    access,
    mqtt,
    retention,
    sync,
    admin,
    http,
    watchdog,
    commands,
    services,
    health,
  };
}
