import { z } from 'zod';

/**
 * The one schema for blinkd's configuration. Every key has a default, so an empty
 * file (or no file) gives a working unit on embedded defaults. Objects are strict:
 * an unknown key is an error, because a typo in a door controller's config must not
 * silently fall back to a default.
 */

// 0 = any free port (tests); the port chosen is logged.
const port = z.number().int().min(0).max(65535);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (24-hour)');
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const unitSchema = z
  .object({
    /** Stable id of this door unit; used in MQTT topics and sync. Empty = derived from the hostname. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{0,64}$/, 'letters, digits, _ or - (at most 64)')
      .default(''),
    name: z.string().min(1).max(100).default('Door'),
    /** IANA time zone for schedules and attendance; empty = the system zone. */
    timezone: z.string().default(''),
  })
  .strict()
  .default({});

export const cameraSchema = z
  .object({
    /** auto | libcamera | v4l2:/dev/videoN | rtsp://… | file:PATH | images:DIR */
    source: z
      .string()
      .refine(
        (s) => s === 'auto' || s === 'libcamera' || /^(v4l2:|rtsp:\/\/|rtsps:\/\/|file:|images:)./.test(s),
        'auto, libcamera, v4l2:/dev/videoN, rtsp://…, file:PATH or images:DIR',
      )
      .default('auto'),
    width: z.number().int().min(64).max(4096).default(640),
    height: z.number().int().min(64).max(4096).default(480),
    fps: z.number().min(1).max(120).default(15),
    /** file: sources: loop the replay (true) or play once. */
    loop: z.boolean().default(true),
    rotate: z.union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)]).default(0),
    restartBackoffMinMs: z.number().int().min(100).max(60_000).default(500),
    restartBackoffMaxMs: z.number().int().min(1000).max(600_000).default(30_000),
    /** Frames older than this are considered a frozen camera (watchdog stops). */
    frozenAfterMs: z.number().int().min(500).max(120_000).default(5000),
  })
  .strict()
  .default({});

export const visionSchema = z
  .object({
    /** Folder holding manifest.json and the .onnx files; empty = the models/ folder shipped with blinkd. */
    modelsDir: z.string().default(''),
    recognitionModel: z.string().min(1).default('faceapi-resnet128'),
    precision: z.enum(['int8', 'fp32']).default('int8'),
    detector: z.string().min(1).default('auto'),
    /** Per ONNX session; 1 measured fastest on 2 cores (no thread wake-ups between the chained small networks, docs/BENCHMARKS.md). */
    intraOpThreads: z.number().int().min(1).max(16).default(1),
    interOpThreads: z.number().int().min(1).max(16).default(1),
    minFaceSizePx: z.number().int().min(20).max(2000).default(60),
    detectorScore: z.number().min(0.05).max(0.99).default(0.5),
    clahe: z.boolean().default(false),
  })
  .strict()
  .default({});

export const livenessSchema = z
  .object({
    /**
     * Let the passive anti-spoof / liveness network scores decide. Off by default: measured on
     * the shared spoof set, antispoof ≥ 0.5 rejects 33 % of live faces and still accepts 70 % of
     * attacks, and a live 640×480 webcam subject scored 0.50–0.58 (docs/EVALUATION.md). A check
     * that turns away real people without stopping photos is worse than none; blink (the
     * default) rejects every print and screen sample. The scores are still computed and kept
     * with every decision, so a site can calibrate and enable this.
     */
    passive: z.boolean().default(false),
    passiveThreshold: z.number().min(0).max(1).default(0.5),
    /** Require an eye blink (open → closed → open) within the time limit. */
    blink: z.boolean().default(true),
    blinkTimeoutMs: z.number().int().min(500).max(30_000).default(4000),
    earClosed: z.number().min(0.05).max(0.5).default(0.2),
    earOpen: z.number().min(0.1).max(0.6).default(0.26),
    /** Ask for a head turn in a random direction. */
    headTurn: z.boolean().default(false),
    headTurnYawDeg: z.number().min(5).max(60).default(20),
    headTurnTimeoutMs: z.number().int().min(1000).max(30_000).default(5000),
  })
  .strict()
  .default({});

const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
export const weeklyWindowSchema = z.object({ days: z.array(weekday).min(1), start: hhmm, end: hhmm }).strict();

export const accessSchema = z
  .object({
    /**
     * Cosine similarity a probe must reach against a person's best template. 0.926 = the
     * smallest threshold with FAR ≤ 1e-3 on the shared faces' 5834 impostor pairs with the
     * default detector cascade (int8 0.9251), rounded up; see docs/EVALUATION.md. face-api's descriptors are not zero-mean,
     * so impostor cosines sit around 0.82 and genuine ones around 0.97.
     */
    threshold: z.number().min(0).max(1).default(0.926),
    /** Best person must beat the best other person by this much, else "ambiguous" (0.02 measured: 0.05 rejects 12 % of genuine probes). */
    margin: z.number().min(0).max(1).default(0.02),
    liveness: livenessSchema,
    /** A granted person is not re-decided for this long while they stand there. */
    cooldownMs: z.number().int().min(0).max(600_000).default(5000),
    /** Give up on a track (deny) after this long without a decision. */
    decisionTimeoutMs: z.number().int().min(1000).max(60_000).default(8000),
    lockdown: z.boolean().default(false),
    attendance: z
      .object({
        enabled: z.boolean().default(true),
        shiftStart: hhmm.default('09:00'),
        graceMinutes: z.number().int().min(0).max(240).default(10),
        /** A second grant at least this long after check-in counts as check-out. */
        minCheckoutGapMinutes: z.number().int().min(0).max(1440).default(60),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

const gpioPin = z.number().int().min(0).max(1023);
export const doorSchema = z
  .object({
    /** auto = onoff when /sys/class/gpio exists and onoff loads, else simulated. */
    driver: z.enum(['auto', 'simulated', 'onoff']).default('auto'),
    /** BCM numbering; on a Pi 5 the gpiochip offset is added (see README). */
    relayPin: gpioPin.default(17),
    relayActiveLow: z.boolean().default(false),
    pulseMs: z.number().int().min(100).max(60_000).default(3000),
    maxUnlockMs: z.number().int().min(1000).max(3_600_000).default(30_000),
    contactPin: gpioPin.nullable().default(null),
    /** Input level that means "door open" on the contact pin. */
    contactOpenLevel: z.union([z.literal(0), z.literal(1)]).default(1),
    exitButtonPin: gpioPin.nullable().default(null),
    exitButtonActiveLevel: z.union([z.literal(0), z.literal(1)]).default(0),
    debounceMs: z.number().int().min(0).max(1000).default(30),
    heldOpenAlarmMs: z.number().int().min(1000).max(3_600_000).default(30_000),
    /** auto = detect (Pi 5 exposes BCM pins at an offset on its gpiochip); or a number. */
    gpioOffset: z.union([z.literal('auto'), z.number().int().min(0).max(2048)]).default('auto'),
    /** Simulated driver only: mirror pin states to this JSON file (for tests and the admin). */
    simulatedStateFile: z.string().default(''),
    /** Simulated driver only: another process drives inputs by writing {"inputs": {"<pin>": 0|1}} to this file. */
    simulatedInputsFile: z.string().default(''),
  })
  .strict()
  .default({});

export const mqttSchema = z
  .object({
    enabled: z.boolean().default(false),
    url: z
      .string()
      .regex(/^(mqtts?|wss?|tcp|tls):\/\/.+/, 'an mqtt://, mqtts://, ws:// or wss:// URL')
      .default('mqtt://127.0.0.1:1883'),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
    username: z.string().default(''),
    password: z.string().default(''),
    /** Empty = blink-<unit id>. */
    clientId: z.string().default(''),
    topicPrefix: z
      .string()
      .regex(/^[^#+]+$/, 'a topic prefix without wildcards')
      .default('blink'),
    keepaliveSec: z.number().int().min(5).max(3600).default(30),
    reconnectMinMs: z.number().int().min(100).max(60_000).default(1000),
    reconnectMaxMs: z.number().int().min(1000).max(600_000).default(60_000),
    tls: z
      .object({
        ca: z.string().default(''),
        cert: z.string().default(''),
        key: z.string().default(''),
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .default({}),
    homeAssistant: z
      .object({
        enabled: z.boolean().default(true),
        discoveryPrefix: z.string().default('homeassistant'),
      })
      .strict()
      .default({}),
    healthIntervalSec: z.number().int().min(5).max(86_400).default(60),
    /** Rows in the MQTT outbox before health messages are dropped (access events never are). */
    outboxMaxRows: z.number().int().min(100).max(10_000_000).default(100_000),
    /** MQTT 5 only: how long the broker keeps this unit's session after a disconnect. */
    sessionExpirySec: z.number().int().min(0).max(4_294_967_295).default(86_400),
    /** QoS 1 messages in flight at once while the outbox drains (in seq order, one window at a time). */
    publishWindow: z.number().int().min(1).max(1000).default(20),
    /** A command whose JSON payload carries "ts" older than this is refused as stale. */
    commandMaxAgeSec: z.number().int().min(1).max(86_400).default(30),
  })
  .strict()
  .default({});

export const syncSchema = z
  .object({
    /** Sync people and attendance with the sync server (docs/SYNC.md). Refused while the unit side is not in this release. */
    enabled: z.boolean().default(false),
    /** The sync server's base URL, e.g. https://sync.example.com (https except on a trusted LAN). */
    serverUrl: z
      .string()
      .refine((s) => s === '' || /^https?:\/\/[^\s/]+(\/.*)?$/.test(s), 'an http:// or https:// URL')
      .default(''),
    /** The organisation this unit belongs to on the sync server. */
    org: z
      .string()
      .regex(/^[A-Za-z0-9_-]{0,64}$/, 'letters, digits, _ or - (at most 64)')
      .default(''),
    /** One-time claim code from the operator (blinkd sync-server claims create); used once at first registration. Empty = wait for approval. */
    claimCode: z.string().max(40).default(''),
    /** File holding the organisation passphrase that opens the key ring (templates are sealed with the organisation's data key). */
    passphraseFile: z.string().default(''),
    /** The unit's Ed25519 device key (generated at first start, mode 0600). Empty = <store.dataDir>/sync-device-key.pem. */
    deviceKeyFile: z.string().default(''),
    intervalSec: z.number().int().min(5).max(86_400).default(60),
    /** Outbox entries per push request. */
    batchSize: z.number().int().min(1).max(5000).default(200),
    /** People per pull page. */
    pageSize: z.number().int().min(1).max(1000).default(200),
    requestTimeoutSec: z.number().int().min(1).max(600).default(30),
    /** Full-jitter exponential backoff after a failure: base and cap. Retries never stop. */
    backoffBaseMs: z.number().int().min(100).max(60_000).default(1000),
    backoffCapMs: z.number().int().min(1000).max(3_600_000).default(120_000),
    /** How long a unit may be away and still catch up incrementally; the server keeps tombstones at least this long (its tombstoneDays). */
    offlineLimitDays: z.number().int().min(1).max(3650).default(30),
    /** Count/hash reconciliation with the server (drift → full resync). */
    reconcileHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(24),
    /** Import of the original app's records (envelope v1): its organisation password (in a file) and the salt it was built with. */
    v1: z
      .object({
        passwordFile: z.string().default(''),
        /** UTF-8 text, or hex:… / base64:… bytes. */
        salt: z.string().default(''),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

export const adminSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** localhost by default; set 0.0.0.0 to serve the LAN. */
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8080),
    tls: z
      .object({
        mode: z.enum(['off', 'self-signed', 'provided']).default('off'),
        cert: z.string().default(''),
        key: z.string().default(''),
      })
      .strict()
      .default({}),
    sessionIdleMinutes: z.number().int().min(1).max(1440).default(30),
    sessionAbsoluteHours: z.number().int().min(1).max(168).default(12),
    maxUploadMb: z.number().min(0.1).max(100).default(10),
    loginMaxFailures: z.number().int().min(3).max(100).default(10),
    lockoutMinutes: z.number().int().min(1).max(1440).default(15),
    /** Days to keep face thumbnails on the unit; 0 = store none. */
    thumbnailRetentionDays: z.number().int().min(0).max(3650).default(30),
  })
  .strict()
  .default({});

export const storeSchema = z
  .object({
    /** Where the SQLite database and unit state live. Relative paths are from the working directory. */
    dataDir: z.string().min(1).default('data'),
    dbFile: z.string().min(1).default('blink.db'),
    eventRetentionDays: z.number().int().min(1).max(36_500).default(365),
  })
  .strict()
  .default({});

export const loggingSchema = z
  .object({
    level: logLevel.default('info'),
  })
  .strict()
  .default({});

export const configSchema = z
  .object({
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

/** Key paths whose values are secrets: redacted by `config check` and the admin API. */
export const SECRET_PATHS: readonly string[] = ['mqtt.password', 'mqtt.tls.key', 'sync.claimCode', 'admin.tls.key'];
