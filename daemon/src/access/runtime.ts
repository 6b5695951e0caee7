import type { ServiceContext, ServiceFactory } from '../controller.js';
import { CameraService } from '../camera/cameraService.js';
import { VisionService } from '../vision/visionService.js';
import { loadModelManifest } from '../vision/modelManifest.js';
import { defaultModelsDir } from '../vision/modelSet.js';
import { frameLoopHealth, WatchdogService, type WatchdogProbes } from '../system/watchdog.js';
import { AccessService } from './accessService.js';
import { AccessGallery } from './accessGallery.js';
import type { FaceMatcher } from './ports.js';

/** How long READY=1 waits for the camera's first frame before announcing anyway (with the camera reported down). */
const CAMERA_READY_TIMEOUT_MS = 20_000;

/**
 * The door runtime's services for SERVICE_FACTORIES, in data-flow order: camera → vision →
 * access → systemd. Later factories find the earlier services of the SAME controller through
 * its ServiceContext (a WeakMap, so nothing leaks between controllers or tests).
 */
interface Runtime {
  camera?: CameraService;
  vision?: VisionService;
  access?: AccessService;
}
const runtimes = new WeakMap<ServiceContext, Runtime>();

function runtimeOf(ctx: ServiceContext): Runtime {
  let r = runtimes.get(ctx);
  if (!r) runtimes.set(ctx, (r = {}));
  return r;
}

export const cameraFactory: ServiceFactory = (ctx) => {
  const camera = new CameraService(ctx.config.camera, ctx.bus, ctx.log.child({ component: 'camera' }));
  runtimeOf(ctx).camera = camera;
  return camera;
};

export const visionFactory: ServiceFactory = (ctx) => {
  const vision = new VisionService(ctx);
  runtimeOf(ctx).vision = vision;
  return vision;
};

/** The gallery of the running embedder (all enrolled people, see AccessGallery), kept in step with the store. */
async function galleryMatcher(ctx: ServiceContext, vision: VisionService): Promise<FaceMatcher & { close(): Promise<void> }> {
  const modelId = vision.embedderId();
  if (!modelId) throw new Error('access: the vision service reports no embedder');
  // The embedding size from the model manifest (the embedder's output shape), else from a stored template.
  let dim: number | undefined;
  try {
    const entry = loadModelManifest(ctx.config.vision.modelsDir || defaultModelsDir()).models.find((m) => m.id === modelId);
    const last = entry?.outputs[0]?.shape.at(-1);
    if (last && last > 0) dim = last;
  } catch {
    /* the vision service already verified the manifest; fall back below */
  }
  dim ??= ctx.store.templates.activeForModel(modelId)[0]?.embedding.length ?? 128;
  const gallery = new AccessGallery(
    ctx.store,
    ctx.bus,
    modelId,
    dim,
    () => ctx.config.access,
    (m) => ctx.log.warn(m),
  );
  await gallery.start();
  return gallery;
}

export const accessFactory: ServiceFactory = (ctx) => {
  const r = runtimeOf(ctx);
  const { camera, vision } = r;
  if (!camera || !vision) throw new Error('access needs the camera and vision services before it in SERVICE_FACTORIES');
  let closeGallery: (() => Promise<void>) | null = null;
  const access = new AccessService(ctx, camera, { analyze: (frame) => vision.process(frame) }, async () => {
    const m = await galleryMatcher(ctx, vision);
    closeGallery = () => m.close();
    return m;
  });
  const stop = access.stop.bind(access);
  access.stop = async () => {
    await stop();
    await closeGallery?.().catch(() => {});
  };
  r.access = access;
  return access;
};

/** The probes systemd's READY/WATCHDOG/STATUS are based on. */
export function runtimeProbes(ctx: ServiceContext): WatchdogProbes {
  const r = runtimeOf(ctx);
  const frozenAfter = ctx.config.camera.frozenAfterMs;
  return {
    ready: async () => {
      if (r.camera) await r.camera.waitUntilReady(CAMERA_READY_TIMEOUT_MS);
    },
    frameLoop: () => {
      const cam = r.camera;
      if (!cam) return { ok: true };
      const snap = cam.snapshot();
      return frameLoopHealth({
        cameraState: snap.state,
        cameraDetail: snap.detail,
        lastFrameAgeMs: snap.lastFrameAgeMs,
        frozenAfterMs: frozenAfter,
        loop: r.access?.frameLoop()?.snapshot() ?? null,
      });
    },
    statusLine: () => {
      const cam = r.camera?.snapshot();
      const loop = r.access?.frameLoop()?.snapshot();
      const people = ctx.store.people.count('ACTIVE');
      const door = ctx.door.state();
      const camera = !cam ? 'no camera' : cam.state === 'none' ? 'no camera' : `camera ${cam.state} ${cam.fps} fps`;
      return `${camera}, vision ${loop?.fps ?? 0} fps, ${people} people enrolled, door ${door.mode}`;
    },
  };
}

export const watchdogFactory: ServiceFactory = (ctx) => new WatchdogService(runtimeProbes(ctx), ctx.bus, ctx.log.child({ component: 'systemd' }));

/**
 * For listeners on the same controller (admin live view, MQTT state): the camera (peek() for
 * the newest frame, snapshot() for fps/drops) and the access service (health counters).
 * null before the factories ran or when a service is not configured.
 */
export function doorRuntime(ctx: ServiceContext): { camera: CameraService | null; vision: VisionService | null; access: AccessService | null } {
  const r = runtimes.get(ctx);
  return { camera: r?.camera ?? null, vision: r?.vision ?? null, access: r?.access ?? null };
}
