import { z } from 'zod';
import { isValidTimeZone } from '../time/localTime.js';
import { key, schemaKeys, section } from './meta.js';
import { PRIVILEGED_COMMANDS } from '../mqtt/commandAuthority.js';
import { decodeEd25519PublicKey, decodeHmacKey } from '../mqtt/commandSignature.js';

/**
 * The one schema for blinkd's configuration. Every key has a default, so an empty file (or no
 * file) gives a working unit on embedded defaults. Objects are strict: an unknown key is an
 * error, because a typo in a door controller's config must not silently fall back to a default
 * (renamed keys are carried over by config/migrations.ts). Each key carries its own facts
 * (meaning, secret, editable in the admin, applies live) — see config/meta.ts; docs, the admin's
 * settings list and redaction are derived from them. Rules between keys of one section live with
 * that section (superRefine).
 */

// 0 = any free port (tests); the port chosen is logged.
const port = z.number().int().min(0).max(65535);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (24-hour)');
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The version of the configuration layout this blinkd writes and reads (older files are migrated). */
export const CONFIG_VERSION = 2;

export const unitSchema = z
  .object({
    id: key(
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{0,64}$/, 'letters, digits, _ or - (at most 64)')
        .default(''),
      {
        doc: 'Stable id of the unit: MQTT topics (`<prefix>/<id>/…`), client id, sync. Letters, digits, `_`, `-`. Empty = the id saved at first boot in `<store.dataDir>/unit-id` (`blinkd firstboot`: `<hostname>-<6 hex>`), else derived from the hostname.',
        defaultText: '`<store.dataDir>/unit-id`, else hostname',
      },
    ),
    name: key(z.string().min(1).max(100).default('Door'), { doc: 'Name shown in the admin and in Home Assistant.' }),
    timezone: key(z.string().refine(isValidTimeZone, 'an IANA time zone such as Europe/Berlin, or empty for the system zone').default(''), {
      doc: 'IANA zone for schedules, validity dates, attendance days and "today" everywhere (`Europe/Berlin`). Checked at start.',
      defaultText: 'system zone',
    }),
  })
  .strict()
  .default({});

export const cameraSchema = z
  .object({
    source: key(
      z
        .string()
        .refine(
          (s) => s === 'auto' || s === 'libcamera' || /^(v4l2:|rtsp:\/\/|rtsps:\/\/|file:|images:)./.test(s),
          'auto, libcamera, v4l2:/dev/videoN, rtsp://…, file:PATH or images:DIR',
        )
        .default('auto'),
      {
        doc: '`auto`, `libcamera` (rpicam-vid / libcamera-vid), `v4l2:/dev/videoN`, `rtsp://…`, `file:PATH` (replay), `images:DIR` (a folder played as a sequence). `auto` tries libcamera, then the first `/dev/video*`, else runs with no camera and says so in health.',
      },
    ),
    width: key(z.number().int().min(64).max(4096).default(640), { doc: 'Capture width in pixels.' }),
    height: key(z.number().int().min(64).max(4096).default(480), { doc: 'Capture height in pixels.' }),
    fps: key(z.number().min(1).max(120).default(15), { doc: 'Capture rate; also the playback rate of `images:` sources.' }),
    loop: key(z.boolean().default(true), { doc: '`file:` and `images:` sources: start again at the end (true) or stop.' }),
    rotate: key(z.union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)]).default(0), { doc: 'Rotate frames by 0, 90, 180 or 270 degrees.' }),
    restartBackoffMinMs: key(z.number().int().min(100).max(60_000).default(500), {
      doc: 'First wait before restarting a dead source; doubles on each failure…',
    }),
    restartBackoffMaxMs: key(z.number().int().min(1000).max(600_000).default(30_000), { doc: '…up to this.' }),
    frozenAfterMs: key(z.number().int().min(500).max(120_000).default(5000), {
      doc: 'No new frame for this long = camera lost: alarm, restart, and the systemd watchdog stops being fed.',
    }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.restartBackoffMinMs > c.restartBackoffMaxMs) {
      ctx.addIssue({ code: 'custom', path: ['restartBackoffMinMs'], message: `at most camera.restartBackoffMaxMs (${c.restartBackoffMaxMs})` });
    }
  })
  .default({});

/** Camera streams: follow a face from the previous frame's mesh instead of running the detector on every frame (vision/faceTracks.ts). */
export const trackingSchema = z
  .object({
    enabled: key(z.boolean().default(true), {
      doc: "Camera streams: once a face is found, the next frame's face crop comes from the previous frame's mesh (as MediaPipe's face pipeline does); the detector runs only when a track is lost, while no face is tracked, and on the safety-net schedule. Off: the detector runs on every frame. Still images (enrollment, `identify`, eval) always detect.",
    }),
    newFaceIntervalFrames: key(z.number().int().min(1).max(30).default(2), {
      doc: 'While no face is tracked, the detector looks for a face on every Nth frame (1 = every frame). Measured cost in frames until an entering face is found: docs/EVALUATION.md "Tracking".',
    }),
    redetectIntervalFrames: key(z.number().int().min(1).max(300).default(10), {
      doc: 'While faces are tracked, the detector still runs on every Nth frame: it re-anchors the tracks and finds faces that entered beside them.',
    }),
    minFaceScore: key(z.number().min(0.05).max(0.99).default(0.5), {
      doc: "The mesh network's face-presence score under which a face counts as lost (the detector then runs on the same frame).",
    }),
    passiveIntervalFrames: key(z.number().int().min(1).max(30).default(3), {
      doc: "The passive networks (MiniFASNet for access.liveness.pad, Human's anti-spoof and liveness) score a tracked face on its first frame and then every Nth frame (1 = every frame); the checks average the scored frames of the track, so PAD needs about 5 × N frames. Faces found on the same frame take their turns on different frames (each track has its own offset), so a frame with several faces is not N times heavier than the others.",
    }),
    embedIntervalFrames: key(z.number().int().min(1).max(30).default(2), {
      doc: 'The embedder runs on every one of a tracked face\'s first `access.trackMinFrames` frames (so the track decision is not delayed), then on every Nth frame (1 = every frame), faces found together taking turns. Between embedded frames the door keeps the track\'s identity; a different face taking over a track is seen on the next embedded frame. Measured cost and saving: docs/BENCHMARKS.md "Issue 16".',
    }),
  })
  .strict()
  .default({});

export const visionSchema = z
  .object({
    modelsDir: key(z.string().default(''), {
      doc: "Folder with `manifest.json` and the `.onnx` files. Every file is checked against the manifest's sha256 at start.",
      defaultText: 'the shipped `models/`',
    }),
    recognitionModel: key(z.string().min(1).default('mobilefacenet512'), {
      doc: 'The embedder family (`mobilefacenet512`, `mobilefacenet192`, `faceapi-resnet`); with `vision.precision` it selects the manifest entry (`mobilefacenet512-int8` / `-fp32`), or name a manifest id of your own model. People enrolled with another embedder get templates of this one in the background from their stored face chips; until then, and for people without chips, they are shown as "re-enrollment needed" and are not matched (docs/RECOGNITION.md).',
    }),
    precision: key(z.enum(['int8', 'fp32']).default('int8'), { doc: '`int8` (default, 2.5× faster) or `fp32`.' }),
    detector: key(z.string().min(1).default('auto'), {
      doc: '`auto` = short-range detector with BlazeFace fallback; `blazeface` = BlazeFace only (finds smaller faces, slower); or a manifest id.',
    }),
    intraOpThreads: key(z.union([z.literal('auto'), z.number().int().min(1).max(16)]).default('auto'), {
      doc: "ONNX Runtime threads per model. `auto` = 1 on a unit with fewer than 4 cores (2 threads measured slower there once the other core is busy with the camera, admin and database), 2 on 4 or more (a Pi 4/5: measured faster with a free core). With more than 1, a model's threads spin only while it runs. docs/BENCHMARKS.md.",
    }),
    interOpThreads: key(z.number().int().min(1).max(16).default(1), { doc: 'ONNX Runtime inter-op threads.' }),
    minFaceSizePx: key(z.number().int().min(20).max(2000).default(60), { doc: 'Smaller faces are ignored.' }),
    detectorScore: key(z.number().min(0.05).max(0.99).default(0.5), { doc: 'Detector confidence needed to consider a face.' }),
    clahe: key(z.boolean().default(false), {
      doc: 'CLAHE lighting correction before embedding. Measured to lower accuracy on the test data (docs/EVALUATION.md), so off.',
    }),
    tracking: section(trackingSchema, { note: "Camera streams follow each face from one frame's mesh to the next; the detector runs only to find faces." }),
  })
  .strict()
  .default({});

const liveness = <T extends z.ZodTypeAny>(doc: string, schema: T): T => key(schema, { doc, admin: 'liveness', live: true });

export const livenessSchema = z
  .object({
    // Off by default: measured on the shared spoof set, antispoof ≥ 0.5 rejects 33 % of live faces and still
    // accepts 70 % of attacks (docs/EVALUATION.md). A check that turns away real people without stopping photos
    // is worse than none; blink (the default) rejects every print and screen sample. The scores are still
    // computed and kept with every decision, so a site can calibrate and enable this.
    passive: liveness(
      'Let the passive anti-spoof / liveness scores decide. Off: measured unreliable on the test data; the scores are still recorded with every decision.',
      z.boolean().default(false),
    ),
    passiveThreshold: liveness('Score (0–1) the passive checks must reach when they decide.', z.number().min(0).max(1).default(0.5)),
    blink: liveness('Require an eye blink (open → closed → open). Stops printed photos and still screens.', z.boolean().default(true)),
    // docs/EVALUATION.md "Presentation-attack detection": MiniFASNet's real score averaged over a 3 s window
    // rejected 0 of 96 live video windows and the phone replay; at 0.3 on single NUAA stills BPCER 14.0 %,
    // print APCER 12.3 %. It scores random noise as real, so it never decides alone: with blink by default.
    pad: liveness(
      'Require the MiniFASNet presentation-attack score (0–1, "real"), averaged over the track\'s frames, to reach `padThreshold` as well. Stops a phone or screen replaying a video of an enrolled person blinking (docs/RECOGNITION.md).',
      z.boolean().default(true),
    ),
    padThreshold: liveness('Mean MiniFASNet "real" score a track must reach when `pad` is on.', z.number().min(0).max(1).default(0.3)),
    blinkTimeoutMs: liveness('Time allowed for the blink.', z.number().int().min(500).max(30_000).default(4000)),
    earClosed: key(z.number().min(0.05).max(0.5).default(0.2), {
      doc: "Eye aspect ratio under which an eye counts as closed (the detector also adapts to the person's open-eye value).",
    }),
    earOpen: key(z.number().min(0.1).max(0.6).default(0.26), { doc: 'Eye aspect ratio over which an eye counts as open again.' }),
    headTurn: liveness('Ask for a head turn to a random side. Stops replayed videos.', z.boolean().default(false)),
    headTurnYawDeg: liveness('How far the head must turn.', z.number().min(5).max(60).default(20)),
    headTurnTimeoutMs: liveness('Time allowed for the turn.', z.number().int().min(1000).max(30_000).default(5000)),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.earClosed >= l.earOpen) ctx.addIssue({ code: 'custom', path: ['earClosed'], message: `less than access.liveness.earOpen (${l.earOpen})` });
  })
  .default({});

const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
export const weeklyWindowSchema = z.object({ days: z.array(weekday).min(1), start: hhmm, end: hhmm }).strict();

const recognition = { admin: 'recognition', live: true } as const;
const attendance = { admin: 'attendance', live: true } as const;

export const accessSchema = z
  .object({
    // The threshold and margin come from the running embedder's measured score distribution
    // (models/calibration/impostors/<model-id>.json) for the security level and the number of people
    // enrolled: access/operatingPoint.ts, docs/RECOGNITION.md. These keys only override.
    securityLevel: key(z.enum(['high', 'standard', 'convenience']).default('standard'), {
      doc: "False-accept target per stranger visit: `high` 1 in 100,000, `standard` 1 in 10,000, `convenience` 1 in 1,000. The threshold follows from the running embedder's calibration and the number of people enrolled (per comparison: target ÷ people), so it rises as the gallery grows (docs/RECOGNITION.md).",
      ...recognition,
    }),
    threshold: key(z.number().min(0).max(1).nullable().default(null), {
      doc: "Override of the match threshold (cosine similarity against a person's best template). Empty = from the embedder's calibration and access.securityLevel. An override below the embedder's FAR 1e-2 point (a number meant for another model) is ignored with a warning.",
      defaultText: 'from the calibration',
      ...recognition,
    }),
    margin: key(z.number().min(0).max(1).nullable().default(null), {
      doc: 'Override of the margin the best person must beat the best other person by, else "ambiguous match" (denied). Empty = from the calibration: 0.02 measured for face-api\'s ResNet, carried to each model in units of its genuine−impostor separation (MobileFaceNet-512: 0.115).',
      defaultText: 'from the calibration',
      ...recognition,
    }),
    // Decisions over the whole track (access/trackFusion.ts): docs/EVALUATION.md "Door approaches" measured
    // K = 3 cutting stranger grants 5x against single frames at 1 % fewer genuine grants.
    trackMinFrames: key(z.number().int().min(1).max(30).default(3), {
      doc: 'A face is recognised only when the fused embedding of its track matches AND at least this many single frames of the track name the same person (K). Higher = fewer false accepts, a little slower.',
      ...recognition,
    }),
    // 0.2, not trackFusion's 0.5 (measured on LFW photos, all large faces): a 640×480 camera frame of a face with
    // eye distance 25 px scored 0.36 and would be left out entirely; the fused mean is weighted by quality anyway.
    trackMinQuality: key(z.number().min(0).max(1).default(0.2), {
      doc: "Frames whose quality (0–1: size, sharpness, light, pose) is below this are left out of the track's fused decision; the others are weighted by it.",
      ...recognition,
    }),
    liveness: section(livenessSchema, { note: 'The liveness policy: which checks a recognised face must pass before a grant.' }),
    grantWhenUnrecorded: key(z.boolean().default(true), {
      doc: 'Keep granting by face while decisions cannot be stored (disk full): they wait in memory and the journal, and `storage_failed` is raised. False = deny (`cannot_record`) until they can be stored. The exit button always opens.',
    }),
    cooldownMs: key(z.number().int().min(0).max(600_000).default(5000), {
      doc: 'After a grant, the same person is not decided again for this long while they stand there.',
      ...recognition,
    }),
    decisionTimeoutMs: key(z.number().int().min(1000).max(60_000).default(8000), { doc: 'A face still undecided after this long is denied.', ...recognition }),
    lockdown: key(z.boolean().default(false), { doc: 'Start in lockdown (no grants; the exit button still opens).' }),
    attendance: z
      .object({
        enabled: key(z.boolean().default(true), { doc: 'Derive attendance (check-in/out) from grants.', ...attendance }),
        shiftStart: key(hhmm.default('09:00'), { doc: 'Check-ins after shift start + grace are LATE.', ...attendance }),
        graceMinutes: key(z.number().int().min(0).max(240).default(10), { doc: 'Grace period after shift start.', ...attendance }),
        minCheckoutGapMinutes: key(z.number().int().min(0).max(1440).default(60), {
          doc: 'A grant at least this long after the check-in counts as check-out.',
          ...attendance,
        }),
        workDays: key(
          z
            .string()
            .regex(/^(mon|tue|wed|thu|fri|sat|sun)(,(mon|tue|wed|thu|fri|sat|sun))*$/, 'weekdays as a comma-separated list, e.g. mon,tue,wed,thu,fri')
            .default('mon,tue,wed,thu,fri'),
          {
            doc: 'Days a person without a weekly schedule is expected (reports count a missed one as an absence); a person with a schedule is expected on its days.',
            ...attendance,
          },
        ),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

const gpioPin = z.number().int().min(0).max(1023);
const doorLive = { admin: 'door', live: true } as const;

export const doorSchema = z
  .object({
    driver: key(z.enum(['auto', 'simulated', 'onoff']).default('auto'), {
      doc: '`onoff` (GPIO via sysfs), `simulated`, or `auto` (onoff where GPIO exists, else simulated).',
    }),
    relayPin: key(gpioPin.default(17), { doc: 'BCM number of the relay output (the Pi 5 gpiochip offset is added for you; docs/INSTALL.md).' }),
    relayActiveLow: key(z.boolean().default(false), { doc: 'True for relay boards that switch on with a low level.' }),
    pulseMs: key(z.number().int().min(100).max(60_000).default(3000), { doc: 'How long a grant keeps the lock released.', ...doorLive }),
    maxUnlockMs: key(z.number().int().min(1000).max(3_600_000).default(30_000), { doc: 'Hard cap on any single unlock.', ...doorLive }),
    contactPin: key(gpioPin.nullable().default(null), { doc: 'Door contact input (BCM); enables held-open and forced-open alarms.', defaultText: 'none' }),
    contactOpenLevel: key(z.union([z.literal(0), z.literal(1)]).default(1), { doc: 'Level on the contact pin that means "open".' }),
    exitButtonPin: key(gpioPin.nullable().default(null), { doc: 'Request-to-exit button input (BCM).', defaultText: 'none' }),
    exitButtonActiveLevel: key(z.union([z.literal(0), z.literal(1)]).default(0), { doc: 'Level on the button pin when pressed.' }),
    debounceMs: key(z.number().int().min(0).max(1000).default(30), { doc: 'Input debounce.' }),
    heldOpenAlarmMs: key(z.number().int().min(1000).max(3_600_000).default(30_000), { doc: 'Door open longer than this = held-open alarm.', ...doorLive }),
    heldUnlockedMaxMinutes: key(z.number().int().min(1).max(10_080).default(720), {
      doc: 'Held-unlocked mode ends by itself after this long (back to normal, relay off). It never survives a restart: the door comes back locked and the end is audited.',
      admin: 'door',
      live: false,
    }),
    heldUnlockedWindows: key(z.array(weeklyWindowSchema).max(20).default([]), {
      doc: 'Weekly windows in which the door may be held unlocked (e.g. business hours); outside them the command is refused and a hold ends. Empty = any time (still bounded by heldUnlockedMaxMinutes).',
      defaultText: 'any time',
    }),
    gpioOffset: key(z.union([z.literal('auto'), z.number().int().min(0).max(2048)]).default('auto'), {
      doc: 'Number added to BCM pin numbers for sysfs; `auto` detects the Pi 5 (RP1) chip.',
    }),
    simulatedStateFile: key(z.string().default(''), { doc: 'Simulated driver: mirror pin levels to this JSON file (tests, demos).', defaultText: 'none' }),
    simulatedInputsFile: key(z.string().default(''), {
      doc: 'Simulated driver: read input levels (contact, exit button) from this JSON file.',
      defaultText: 'none',
    }),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.pulseMs > d.maxUnlockMs) ctx.addIssue({ code: 'custom', path: ['pulseMs'], message: `at most door.maxUnlockMs (${d.maxUnlockMs})` });
  })
  .default({});

const mqttRestart = { admin: 'mqtt', live: false } as const;

export const mqttSchema = section(
  z
    .object({
      enabled: key(z.boolean().default(false), { doc: 'Connect to a broker.', ...mqttRestart }),
      url: key(
        z
          .string()
          .regex(/^(mqtts?|wss?|tcp|tls):\/\/.+/, 'an mqtt://, mqtts://, ws:// or wss:// URL')
          .default('mqtt://127.0.0.1:1883'),
        { doc: 'Broker URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`).', credentials: ['mqtt.password'], ...mqttRestart },
      ),
      protocolVersion: key(z.union([z.literal(4), z.literal(5)]).default(4), { doc: '4 = MQTT 3.1.1, 5 = MQTT 5.' }),
      username: key(z.string().default(''), { doc: 'Broker user name.', defaultText: 'empty', ...mqttRestart }),
      password: key(z.string().default(''), { doc: 'Broker password (secret).', defaultText: 'empty', secret: true, ...mqttRestart }),
      clientId: key(z.string().default(''), { doc: 'Client id; must be unique per unit (persistent session).', defaultText: '`blink-<unit.id>`' }),
      topicPrefix: key(
        z
          .string()
          .regex(/^[^#+]+$/, 'a topic prefix without wildcards')
          .default('blink'),
        { doc: 'First topic level.', ...mqttRestart },
      ),
      keepaliveSec: key(z.number().int().min(5).max(3600).default(30), { doc: 'Keepalive interval.' }),
      reconnectMinMs: key(z.number().int().min(100).max(60_000).default(1000), { doc: 'First reconnect delay; doubles…' }),
      reconnectMaxMs: key(z.number().int().min(1000).max(600_000).default(60_000), { doc: '…up to this.' }),
      tls: z
        .object({
          ca: key(z.string().default(''), { doc: 'CA certificate file for the broker.', defaultText: 'empty' }),
          cert: key(z.string().default(''), { doc: 'Client certificate file.', defaultText: 'empty' }),
          key: key(z.string().default(''), { doc: 'Client key file (secret).', defaultText: 'empty', secret: true }),
          rejectUnauthorized: key(z.boolean().default(true), { doc: "Verify the broker's certificate." }),
        })
        .strict()
        .default({}),
      homeAssistant: z
        .object({
          enabled: key(z.boolean().default(true), { doc: 'Publish Home Assistant discovery configs.', ...mqttRestart }),
          discoveryPrefix: key(z.string().default('homeassistant'), { doc: "Home Assistant's discovery prefix." }),
        })
        .strict()
        .default({}),
      healthIntervalSec: key(z.number().int().min(5).max(86_400).default(60), { doc: 'Period of `<prefix>/<unit>/health`.', ...mqttRestart }),
      outboxMaxRows: key(z.number().int().min(100).max(10_000_000).default(100_000), {
        doc: 'Outbox bound: when full, oldest health then state messages are dropped; access events never.',
      }),
      maxPacketBytes: key(z.number().int().min(1024).max(268_435_455).default(65_536), {
        doc: 'Largest MQTT packet the unit takes. Over MQTT 5 the broker is told and never sends more (a flood of huge payloads costs the unit nothing); over 3.1.1 set the broker\'s `max_packet_size` (docs/MQTT.md, "Security").',
      }),
      sessionExpirySec: key(z.number().int().min(0).max(4_294_967_295).default(86_400), { doc: 'MQTT 5 session expiry.' }),
      publishWindow: key(z.number().int().min(1).max(1000).default(20), { doc: 'Messages in flight at once from the outbox.' }),
      commandMaxAgeSec: key(z.number().int().min(1).max(86_400).default(30), {
        doc: 'Commands carrying an older `ts` (or that far in the future) are refused; also the replay window of signed commands.',
      }),
      commands: section(
        z
          .object({
            hmacKey: key(
              z
                .string()
                .default('')
                .superRefine((v, ctx) => {
                  try {
                    decodeHmacKey(v);
                  } catch (err) {
                    ctx.addIssue({ code: 'custom', message: (err as Error).message });
                  }
                }),
              {
                doc: 'Key for HMAC-SHA256 signed commands (per unit or per fleet), base64 or hex, at least 32 bytes. Empty = HMAC-signed commands are not accepted.',
                defaultText: 'empty',
                secret: true,
              },
            ),
            ed25519PublicKeys: key(
              z
                .array(z.string())
                .max(20)
                .default([])
                .superRefine((keys, ctx) => {
                  keys.forEach((k, i) => {
                    try {
                      decodeEd25519PublicKey(k);
                    } catch (err) {
                      ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
                    }
                  });
                }),
              {
                doc: 'Public keys (PEM, or base64 of 32 bytes) whose Ed25519 signatures authorise commands: the unit holds nothing that can sign.',
                defaultText: 'none',
              },
            ),
            allowUnsigned: key(z.array(z.enum(PRIVILEGED_COMMANDS)).max(3).default([]), {
              doc: "Door-opening commands accepted WITHOUT a signature: `unlock`, `held_unlocked`, `lockdown_off`. Only for brokers that enforce per-client ACLs (Home Assistant's MQTT lock cannot sign); the unit warns at every start and on its health page.",
              defaultText: 'none',
            }),
            maxPerMinute: key(z.number().int().min(1).max(6000).default(60), {
              doc: 'Commands handled per minute; the rest are refused unread (a flood must not stall the door). Refusals beyond 30 a minute are counted into one audit entry (and not answered).',
            }),
          })
          .strict()
          .default({}),
        {
          note: 'Who may open the door over MQTT: commands that unlock, hold the door unlocked or lift a lockdown must be signed (or explicitly allowed unsigned); see docs/MQTT.md, "Security".',
        },
      ),
    })
    .strict()
    .superRefine((m, ctx) => {
      if (m.password && !m.username) ctx.addIssue({ code: 'custom', path: ['password'], message: 'a broker password needs mqtt.username as well' });
    })
    .default({}),
  { note: 'See docs/MQTT.md for topics and payloads.' },
);

const syncRestart = { admin: 'sync', live: false } as const;

export const syncSchema = section(
  z
    .object({
      enabled: key(z.boolean().default(false), {
        doc: 'Sync people and attendance with the sync server (docs/SYNC.md). Needs serverUrl, org and passphraseFile.',
        ...syncRestart,
      }),
      serverUrl: key(
        z
          .string()
          .refine((s) => s === '' || /^https?:\/\/[^\s/]+(\/.*)?$/.test(s), 'an http:// or https:// URL')
          .default(''),
        {
          doc: "The sync server's base URL, e.g. `https://sync.example.com` (https except on a trusted LAN).",
          defaultText: 'empty',
          credentials: ['sync.claimCode'],
          ...syncRestart,
        },
      ),
      org: key(
        z
          .string()
          .regex(/^[A-Za-z0-9_-]{0,64}$/, 'letters, digits, _ or - (at most 64)')
          .default(''),
        { doc: 'The organisation this unit belongs to on the sync server.', defaultText: 'empty', ...syncRestart },
      ),
      claimCode: key(z.string().max(40).default(''), {
        doc: 'One-time claim code from the operator (`blinkd sync-server claims create`), used once at first registration (secret). Empty = wait for approval.',
        defaultText: 'empty',
        secret: true,
        ...syncRestart,
      }),
      passphraseFile: key(z.string().default(''), {
        doc: "File holding the organisation passphrase that opens the key ring (templates are sealed with the organisation's data key).",
        defaultText: 'empty',
      }),
      deviceKeyFile: key(z.string().default(''), {
        doc: "The unit's Ed25519 device key (generated at first start, mode 0600).",
        defaultText: '`<store.dataDir>/sync-device-key.pem`',
      }),
      intervalSec: key(z.number().int().min(5).max(86_400).default(60), { doc: 'Sync period.', ...syncRestart }),
      batchSize: key(z.number().int().min(1).max(5000).default(200), { doc: 'Outbox entries per push request.' }),
      pageSize: key(z.number().int().min(1).max(1000).default(200), { doc: 'People per pull page.' }),
      requestTimeoutSec: key(z.number().int().min(1).max(600).default(30), { doc: 'Timeout of one request to the sync server.' }),
      backoffBaseMs: key(z.number().int().min(100).max(60_000).default(1000), { doc: 'Full-jitter exponential backoff after a failure: base…' }),
      backoffCapMs: key(z.number().int().min(1000).max(3_600_000).default(120_000), { doc: '…and cap. Retries never stop.' }),
      offlineLimitDays: key(z.number().int().min(1).max(3650).default(30), {
        doc: 'How long a unit may be away and still catch up incrementally (the server keeps tombstones at least this long: its tombstoneDays).',
      }),
      reconcileHours: key(
        z
          .number()
          .int()
          .min(1)
          .max(24 * 30)
          .default(24),
        { doc: 'Count/hash reconciliation with the server (drift = full resync).' },
      ),
      v1: z
        .object({
          passwordFile: key(z.string().default(''), {
            doc: "Import of the original app's records (envelope v1): file holding its organisation password.",
            defaultText: 'empty',
          }),
          salt: key(z.string().default(''), {
            doc: 'The salt the original app was built with: UTF-8 text, or `hex:…` / `base64:…` bytes.',
            defaultText: 'empty',
          }),
        })
        .strict()
        .default({}),
    })
    .strict()
    .default({}),
  { note: 'Store-and-forward sync of people (templates sealed end to end) and attendance with the sync server; see docs/SYNC.md.' },
);

const adminLive = { admin: 'admin', live: true } as const;

export const adminSchema = section(
  z
    .object({
      enabled: key(z.boolean().default(true), { doc: 'Serve the web admin and `/health`.' }),
      host: key(z.string().min(1).default('127.0.0.1'), { doc: 'Listen address; `0.0.0.0` to serve the LAN.' }),
      port: key(port.default(8080), { doc: 'Listen port (0 = any free port, logged).' }),
      allowedHosts: key(
        z
          .array(
            z
              .string()
              .regex(/^(\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?)$/, 'a host name, `*.domain` or `*`'),
          )
          .max(50)
          .default([]),
        {
          doc: "Host names the admin answers to besides IP addresses, `localhost`, the machine's host name and `<hostname>.local` (DNS-rebinding defence: other names get 421). `*.example.com` allows sub-names; `*` turns the check off (a proxy that rewrites Host).",
          defaultText: 'none',
        },
      ),
      tls: z
        .object({
          mode: key(z.enum(['off', 'self-signed', 'provided']).default('off'), {
            doc: '`off`, `self-signed` (generated once into the data folder), or `provided`.',
          }),
          cert: key(z.string().default(''), { doc: 'Certificate file for `provided`.', defaultText: 'empty' }),
          key: key(z.string().default(''), { doc: 'Key file for `provided` (secret).', defaultText: 'empty', secret: true }),
        })
        .strict()
        .default({}),
      sessionIdleMinutes: key(z.number().int().min(1).max(1440).default(30), { doc: 'Sign out after this long without activity.', ...adminLive }),
      sessionAbsoluteHours: key(z.number().int().min(1).max(168).default(12), { doc: 'Sign out after this long in any case.', ...adminLive }),
      maxUploadMb: key(z.number().min(0.1).max(100).default(10), { doc: 'Largest upload (photos); larger gets 413.' }),
      loginMaxFailures: key(z.number().int().min(3).max(100).default(10), { doc: 'Failed logins before lock-out.', ...adminLive }),
      lockoutMinutes: key(z.number().int().min(1).max(1440).default(15), { doc: 'Lock-out length.', ...adminLive }),
      thumbnailRetentionDays: key(z.number().int().min(0).max(3650).default(30), {
        doc: 'Days face thumbnails are kept on the unit; 0 = none stored.',
        ...adminLive,
      }),
    })
    .strict()
    .default({}),
  { note: 'See docs/ADMIN.md.' },
);

export const storeSchema = z
  .object({
    dataDir: key(z.string().min(1).default('data'), {
      doc: 'Folder for the database and unit state (relative to the working directory; the systemd unit uses `/var/lib/blink`).',
    }),
    dbFile: key(z.string().min(1).default('blink.db'), { doc: 'SQLite file name in the data folder.' }),
    eventRetentionDays: key(z.number().int().min(1).max(36_500).default(365), {
      doc: 'Access events and attendance older than this are deleted (checked at start and every hour).',
    }),
    minFreeMb: key(z.number().int().min(1).max(1_000_000).default(200), {
      doc: 'Below this much free space on the data filesystem the unit reports degraded and raises `disk_low` (checked every 15 s).',
    }),
    pendingDecisionsMax: key(z.number().int().min(100).max(1_000_000).default(10_000), {
      doc: 'Decisions kept in memory while the database cannot take them (disk full); beyond this the oldest are dropped from memory (each is in the journal from the first moment).',
    }),
    auditRetentionDays: key(z.number().int().min(30).max(36_500).default(730), {
      doc: 'Audit log entries older than this are deleted (each pruning is itself audited, so a gap is never silent).',
    }),
  })
  .strict()
  .default({});

export const loggingSchema = z
  .object({
    level: key(logLevel.default('info'), { doc: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. JSON lines on stdout.' }),
  })
  .strict()
  .default({});

export const configSchema = z
  .object({
    version: key(z.literal(CONFIG_VERSION).default(CONFIG_VERSION), {
      doc: 'Layout version of this file. Older files are migrated at load (renamed keys carried over, with a warning naming the new key); a file newer than this blinkd is refused.',
    }),
    unit: unitSchema,
    camera: cameraSchema,
    vision: visionSchema,
    access: accessSchema,
    door: doorSchema,
    mqtt: mqttSchema,
    sync: syncSchema,
    admin: adminSchema,
    store: storeSchema,
    logging: loggingSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type WeeklyWindow = z.infer<typeof weeklyWindowSchema>;

/** Key paths whose values are secrets (from the schema): redacted by `config check` and the admin API, never echoed in errors. */
export const SECRET_PATHS: readonly string[] = schemaKeys(configSchema)
  .filter((k) => k.meta?.secret)
  .map((k) => k.path);
