/**
 * The operating point of the door: the match threshold and margin for the running embedder,
 * chosen from that embedder's measured score distribution (models/calibration/impostors/<model-id>.json,
 * written by `npm run eval -- --save-scores`) for a security level and the number of people enrolled.
 *
 * The rule (docs/RECOGNITION.md, "Operating point"):
 *
 *   A security level names a target false-accept rate PER STRANGER VISIT (one track decision):
 *     high 1e-5, standard 1e-4, convenience 1e-3.
 *   A stranger's visit is one 1:N search of the track's fused embedding: one comparison with each of
 *   the N people in the gallery, any of which could accept them. With FAR f per comparison,
 *     FAR_visit = 1 − (1 − f)^N ≈ N · f,
 *   so the per-comparison target is f = FAR_visit / N, and the threshold is the smallest score at
 *   which the measured impostor pairs accept at most f of the time (exactly: at most ⌊f · pairs⌋
 *   impostor pairs score at or above it). The gallery grows → f shrinks → the threshold rises (the
 *   stricter point). When f · pairs < 1 the distribution cannot show that FAR; the threshold is
 *   then put just above the highest impostor score ever measured and the point is reported as
 *   not resolved (the measured FAR is 0 of `pairs`, the target is below what the data can show).
 *
 *   The margin (best person − runner-up) is the margin measured for face-api's ResNet (0.02 of its
 *   genuine−impostor mean separation 0.1125, docs/EVALUATION.md) carried to the model in the same
 *   units: margin = MARGIN_OF_SEPARATION × (genuine mean − impostor mean) of the model.
 *
 *   access.threshold / access.margin override the computed values (null = computed). An override
 *   below the model's FAR 1e-2 threshold would let nearly anyone in with this model (a number set
 *   for another embedder): it is refused and the computed value used, with a warning on /health.
 *
 * Pure functions plus one small owner (OperatingPoints) that caches per (model, people).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { configuredEmbedder, defaultModelsDir } from '../vision/modelSet.js';

export const SECURITY_LEVELS = { high: 1e-5, standard: 1e-4, convenience: 1e-3 } as const;
export type SecurityLevel = keyof typeof SECURITY_LEVELS;

/** The dlib margin 0.02 in units of its genuine−impostor mean separation on faces-lfw (0.950211 − 0.837666). */
export const MARGIN_OF_SEPARATION = 0.02 / (0.950211 - 0.837666);

/** The subset of a saved distribution (eval/scoreDistribution.ts) the operating point reads, validated at load. */
const distributionSchema = z.object({
  schema: z.literal(1),
  model: z.string(),
  dataset: z.object({ name: z.string() }).passthrough(),
  impostor: z.object({
    pairs: z.number().int().positive(),
    max: z.number(),
    mean: z.number(),
    thresholds: z.record(z.number().nullable()),
    tail: z.array(z.tuple([z.number(), z.number()])).min(1),
    top: z.array(z.number()).min(1),
  }),
  genuine: z.object({
    pairs: z.number().int().positive(),
    mean: z.number(),
    quantiles: z.record(z.number()),
    frr: z.array(z.tuple([z.number(), z.number()])).min(1),
  }),
});
export type Calibration = z.infer<typeof distributionSchema>;

export interface OperatingPoint {
  model: string;
  level: SecurityLevel;
  /** people in the gallery the point was chosen for (at least 1) */
  people: number;
  /** the level's target false-accept rate per stranger visit */
  farPerVisitTarget: number;
  /** per-comparison FAR target = farPerVisitTarget / people */
  farPerComparisonTarget: number;
  threshold: number;
  margin: number;
  /** measured on the calibration set at this threshold */
  farPerComparison: number;
  /** 1 − (1 − farPerComparison)^people */
  farPerVisit: number;
  /** fraction of genuine pairs below the threshold (single pair, not a fused track: an upper bound for the door) */
  frr: number;
  /** false when the target FAR is below what the calibration pairs can show (threshold above every measured impostor) */
  resolved: boolean;
  thresholdSource: 'calibration' | 'access.threshold';
  marginSource: 'calibration' | 'access.margin';
  calibration: { dataset: string; impostorPairs: number; genuinePairs: number };
  warnings: string[];
}

const r6 = (x: number): number => Number(x.toFixed(6));

export function calibrationPath(modelsDir: string, modelId: string): string {
  return join(modelsDir, 'calibration', 'impostors', `${modelId}.json`);
}

/** Reads and checks a model's saved score distribution; the error names the file and what is wrong. */
export function loadCalibration(modelsDir: string, modelId: string): Calibration {
  const file = calibrationPath(modelsDir, modelId);
  if (!existsSync(file))
    throw new Error(`no calibration for embedder ${modelId}: ${file} is missing (npm run eval -- --save-scores models/calibration/impostors)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`calibration ${file}: not JSON (${(err as Error).message})`);
  }
  const parsed = distributionSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`calibration ${file}: ${i.path.join('.') || 'file'}: ${i.message}`);
  }
  if (parsed.data.model !== modelId) throw new Error(`calibration ${file} is for ${parsed.data.model}, not ${modelId}`);
  return parsed.data;
}

/** Impostor pairs scoring ≥ t: exact from the top scores where they reach, else the tail grid (interpolated between its points). */
function impostorsAtLeast(c: Calibration, t: number): number {
  const { top, tail } = c.impostor;
  const inTop = top.filter((s) => s >= t).length;
  if (inTop < top.length) return inTop;
  if (t < tail[0]![0]) return c.impostor.pairs * 1e-2; // below the grid: FAR ≥ 1e-2 (not a door's operating point)
  for (let i = 0; i + 1 < tail.length; i++) {
    const [t0, n0] = tail[i]!;
    const [t1, n1] = tail[i + 1]!;
    if (t >= t0 && t < t1) return Math.max(inTop, n0 + ((n1 - n0) * (t - t0)) / (t1 - t0));
  }
  return inTop;
}

/** The smallest threshold at which at most ⌊f · pairs⌋ impostor pairs score at or above it. */
export function thresholdForFar(c: Calibration, f: number): { threshold: number; resolved: boolean } {
  // a decade the evaluation computed exactly (FAR 1e-2 … 1e-5)
  for (const [k, t] of Object.entries(c.impostor.thresholds)) if (t !== null && Math.abs(Number(k) - f) <= f * 1e-9) return { threshold: t, resolved: true };
  const allowed = Math.floor(f * c.impostor.pairs + 1e-9);
  const { top, tail } = c.impostor;
  if (allowed < top.length) {
    // just above the (allowed+1)-th highest impostor score
    return { threshold: r6(top[allowed]! + 1e-6), resolved: allowed >= 1 };
  }
  for (const [t, n] of tail) if (n <= allowed) return { threshold: t, resolved: true };
  return { threshold: r6(c.impostor.max + 1e-6), resolved: true };
}

/** Fraction of genuine pairs below t: the grid where it reaches; above it, at least the largest quantile q whose score is ≤ t. */
function frrAt(c: Calibration, t: number): number {
  const grid = c.genuine.frr;
  let f = grid[0]![1];
  if (t < grid[0]![0]) return f; // below the grid: at most the first point's FRR
  for (const [tt, v] of grid) if (tt <= t) f = v;
  for (const [q, score] of Object.entries(c.genuine.quantiles)) if (score <= t && Number(q) > f) f = Number(q);
  return f;
}

export interface OperatingPointOptions {
  level: SecurityLevel;
  people: number;
  /** access.threshold / access.margin (null = from the calibration) */
  threshold?: number | null;
  margin?: number | null;
}

export function operatingPoint(c: Calibration, o: OperatingPointOptions): OperatingPoint {
  const people = Math.max(1, Math.floor(o.people));
  const farPerVisitTarget = SECURITY_LEVELS[o.level];
  const farPerComparisonTarget = farPerVisitTarget / people;
  const computed = thresholdForFar(c, farPerComparisonTarget);
  const warnings: string[] = [];
  let threshold = computed.threshold;
  let thresholdSource: OperatingPoint['thresholdSource'] = 'calibration';
  const loosest = c.impostor.thresholds['1e-2'];
  if (o.threshold !== null && o.threshold !== undefined) {
    if (loosest !== null && loosest !== undefined && o.threshold < loosest) {
      warnings.push(
        `access.threshold ${o.threshold} is below ${c.model}'s FAR 1e-2 threshold ${loosest} (set for another embedder?): ignored, using ${threshold}`,
      );
    } else {
      threshold = o.threshold;
      thresholdSource = 'access.threshold';
      const frr = frrAt(c, threshold);
      if (frr >= 0.5)
        warnings.push(
          `access.threshold ${o.threshold} rejects at least ${(frr * 100).toFixed(0)} % of genuine pairs with ${c.model} (set for another embedder?)`,
        );
    }
  }
  const separation = c.genuine.mean - c.impostor.mean;
  let margin = r6(Math.max(0, MARGIN_OF_SEPARATION * separation));
  let marginSource: OperatingPoint['marginSource'] = 'calibration';
  if (o.margin !== null && o.margin !== undefined) {
    margin = o.margin;
    marginSource = 'access.margin';
  }
  const resolved = thresholdSource === 'calibration' ? computed.resolved : true;
  let farPerComparison = impostorsAtLeast(c, threshold) / c.impostor.pairs;
  // the computed threshold admits at most ⌊target · pairs⌋ measured impostors by construction (the grid only estimates between its points)
  if (thresholdSource === 'calibration')
    farPerComparison = Math.min(farPerComparison, Math.floor(farPerComparisonTarget * c.impostor.pairs + 1e-9) / c.impostor.pairs);
  if (!resolved)
    warnings.push(
      `${o.level} with ${people} people needs FAR ${farPerComparisonTarget.toExponential(1)} per comparison, below what ${c.impostor.pairs} calibration pairs can show: threshold set above the highest impostor score`,
    );
  return {
    model: c.model,
    level: o.level,
    people,
    farPerVisitTarget,
    farPerComparisonTarget,
    threshold,
    margin,
    farPerComparison,
    farPerVisit: 1 - Math.pow(1 - farPerComparison, people),
    frr: frrAt(c, threshold),
    resolved,
    thresholdSource,
    marginSource,
    calibration: { dataset: String(c.dataset.name), impostorPairs: c.impostor.pairs, genuinePairs: c.genuine.pairs },
    warnings,
  };
}

export interface OperatingPointSource {
  /** the running embedder's manifest id (null before vision runs) */
  model(): string | null;
  /** people in the gallery now */
  people(): number;
}

/**
 * The one owner of the door's operating point: recomputed when the model or the number of
 * people changes (cheap: a scan of ~200 numbers), calibration files read once per model.
 * Reads access.securityLevel / threshold / margin at use, so live settings apply.
 */
export class OperatingPoints {
  private readonly calibrations = new Map<string, Calibration | Error>();
  private cached: { key: string; point: OperatingPoint } | null = null;

  constructor(
    readonly access: { securityLevel: SecurityLevel; threshold: number | null; margin: number | null },
    private readonly modelsDir: string,
    private readonly source: OperatingPointSource,
  ) {}

  calibration(modelId: string): Calibration {
    let c = this.calibrations.get(modelId);
    if (!c) {
      try {
        c = loadCalibration(this.modelsDir, modelId);
      } catch (err) {
        c = err as Error;
      }
      this.calibrations.set(modelId, c);
    }
    if (c instanceof Error) throw c;
    return c;
  }

  /** The point for the running model and gallery (throws when the model has no calibration). */
  current(): OperatingPoint | null {
    const model = this.source.model();
    if (!model) return null;
    return this.for(model, this.source.people());
  }

  for(model: string, people: number): OperatingPoint {
    const { securityLevel, threshold, margin } = this.access;
    const key = `${model}|${Math.max(1, people)}|${securityLevel}|${threshold}|${margin}`;
    if (this.cached?.key === key) return this.cached.point;
    const point = operatingPoint(this.calibration(model), { level: securityLevel, people, threshold, margin });
    this.cached = { key, point };
    return point;
  }

  /** threshold + margin for a match now; the computed point when there is one, else the overrides, else refuse everyone. */
  thresholds(): { threshold: number; margin: number } {
    try {
      const p = this.current();
      if (p) return { threshold: p.threshold, margin: p.margin };
    } catch {
      // no calibration for this model: only an explicit threshold can let anyone in
    }
    return { threshold: this.access.threshold ?? 1.01, margin: this.access.margin ?? 0 };
  }

  /** Every level for the running model and gallery (the admin's table), or an error message. */
  levels(): { current: OperatingPoint | null; levels: OperatingPoint[]; error?: string } {
    const model = this.source.model();
    if (!model) return { current: null, levels: [] };
    try {
      const c = this.calibration(model);
      const people = this.source.people();
      const levels = (Object.keys(SECURITY_LEVELS) as SecurityLevel[]).map((level) => operatingPoint(c, { level, people }));
      return { current: this.for(model, people), levels };
    } catch (err) {
      return { current: null, levels: [], error: (err as Error).message };
    }
  }
}

/** The door's operating points for a unit: the running embedder and the searchable people come from the people registry. */
export function operatingPointsFor(
  config: { access: OperatingPoints['access']; vision: Parameters<typeof configuredEmbedder>[0] },
  registry: { activeModel(): { id: string } | null; searchable(): number },
): OperatingPoints {
  let configured: string | null | undefined;
  const fromConfig = (): string | null => {
    if (configured === undefined) {
      try {
        configured = configuredEmbedder(config.vision).id;
      } catch {
        configured = null;
      }
    }
    return configured;
  };
  return new OperatingPoints(config.access, config.vision.modelsDir || defaultModelsDir(), {
    // the running embedder; before vision runs (or without it: the admin's camera-only runtime) the configured one
    model: () => registry.activeModel()?.id ?? fromConfig(),
    people: () => registry.searchable(),
  });
}
