import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { accessSchema, visionSchema } from '../config/schema.js';
import { loadModelManifest } from '../vision/modelManifest.js';
import { defaultModelsDir, resolveEmbedder } from '../vision/modelSet.js';
import { FacePipeline } from '../vision/pipeline.js';
import { intraOpThreads } from '../vision/pipelineOptions.js';
import { scanDataset } from './dataset.js';
import { buildReport, describeDataset, pairScores, progressReporter, type EvalReport, type ModelToEvaluate, type PrecisionReport } from './evaluate.js';
import { padMain } from './padEval.js';
import { tracksMain } from './tracksEval.js';
import { trackingMain } from './trackingEval.js';
import { scoreDistribution, type ScoreDistribution } from './scoreDistribution.js';

const USAGE = `usage: npm run eval -- --data DIR [--embedder ID[,ID...]] [--json FILE] [--save-scores DIR] [--threshold T] [--margin M] [--clahe] [--models DIR]
       npm run eval -- --pad [--data SHARED_DATA_DIR] [--json FILE]
       npm run eval -- --tracks [--data SHARED_DATA_DIR] [--embedder ID] [--json FILE]
       npm run eval -- --tracking [--data SHARED_DATA_DIR] [--frames N] [--json FILE]

DIR/<identity>/<image>: folders named "distractors" hold impostors without identity;
"group_photos", "no_face" and "labels" are skipped. Each embedder (a manifest id or family, default
vision.recognitionModel) is evaluated at INT8 and FP32; the first one detects and finds the five
points once per image, the others align and embed from them. --save-scores DIR writes each model's
score distribution (DIR/<model-id>.json, see daemon/src/eval/scoreDistribution.ts).
--pad: presentation-attack detection per attack species (ISO/IEC 30107-3 APCER/BPCER) on
SHARED_DATA_DIR/spoof and SHARED_DATA_DIR/video.
--tracks: door approaches (faces-lfw photo sequences, FOCUS video windows) against galleries of
10/100/200, single-frame vs track decisions (daemon/src/access/trackFusion.ts).
--tracking: faces followed from frame to frame (vision.tracking) vs detecting every frame on
SHARED_DATA_DIR/video (first N frames per clip, default 600): mesh difference, frames until an
entering face is found, faces reported after they left.`;

/** Saved faces-lfw distributions (npm run eval -- --save-scores models/calibration/impostors). */
export function impostorsDir(modelsDir = defaultModelsDir()): string {
  return join(modelsDir, 'calibration', 'impostors');
}

const KEYS = [
  'tar_at_far_1e-2',
  'tar_at_far_1e-3',
  'tar_at_far_1e-4',
  'eer',
  'rank1',
  'distractor_false_accept_rate',
  'detection_failures',
  'genuine_pairs',
  'impostor_pairs',
  'threshold',
  'threshold_at_far_1e-3',
  'threshold_at_far_1e-4',
] as const;

function fmt(r: EvalReport): string {
  const ids = Object.keys(r.models);
  const w = Math.max(10, ...ids.map((i) => i.length));
  const lines = [`dataset ${r.dataset}: ${r.images} images, ${r.identities} identities, ${r.distractors} distractors (clahe ${r.clahe ? 'on' : 'off'})`];
  lines.push(`${'metric'.padEnd(28)} ${ids.map((i) => i.padStart(w)).join(' ')}`);
  const cell = (m: PrecisionReport, k: (typeof KEYS)[number]): string => {
    const x = m[k];
    return Number.isInteger(x) ? String(x) : x.toFixed(4);
  };
  for (const k of KEYS) lines.push(`${k.padEnd(28)} ${ids.map((i) => cell(r.models[i]!, k).padStart(w)).join(' ')}`);
  lines.push(
    `${'distractors accepted'.padEnd(28)} ${ids.map((i) => `${r.models[i]!.open_set.distractors_accepted}/${r.models[i]!.open_set.distractors}`.padStart(w)).join(' ')}`,
  );
  lines.push(`${'threshold from'.padEnd(28)} ${ids.map((i) => r.models[i]!.threshold_source.slice(0, w).padStart(w)).join(' ')}`);
  if (r.detection_failed_images.length) lines.push(`no face found in: ${r.detection_failed_images.join(', ')}`);
  return lines.join('\n');
}

/**
 * The open-set threshold of a model: --threshold if given; the configured access.threshold for
 * the configured embedder family; else the model's FAR 1e-3 threshold from its saved faces-lfw
 * distribution; else this run's own FAR 1e-3 threshold (said so in the report).
 */
function thresholdFor(
  id: string,
  given: number | undefined,
  configured: { family: string; threshold: number | null },
  modelsDir: string,
): { threshold: number; source: string } | null {
  if (given !== undefined) return { threshold: given, source: '--threshold' };
  if (configured.threshold !== null && id.replace(/-(int8|fp32)$/, '').replace(/128$/, '') === configured.family)
    return { threshold: configured.threshold, source: 'access.threshold' };
  const file = join(impostorsDir(modelsDir), `${id}.json`);
  if (existsSync(file)) {
    const d = JSON.parse(readFileSync(file, 'utf8')) as ScoreDistribution;
    const t = d.impostor.thresholds['1e-3'];
    if (t !== null) return { threshold: t, source: `FAR 1e-3 on ${d.dataset.name}` };
  }
  return null;
}

export async function evalMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        json: { type: 'string' },
        threshold: { type: 'string' },
        margin: { type: 'string' },
        clahe: { type: 'boolean' },
        models: { type: 'string' },
        embedder: { type: 'string' },
        'save-scores': { type: 'string' },
        pad: { type: 'boolean' },
        tracks: { type: 'boolean' },
        tracking: { type: 'boolean' },
        frames: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`eval: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (values.pad) return padMain({ data: values.data, json: values.json, modelsDir: values.models });
  if (values.tracking) {
    const frames = values.frames !== undefined ? Number(values.frames) : undefined;
    if (frames !== undefined && !(Number.isInteger(frames) && frames > 0)) {
      process.stderr.write(`eval: --frames must be a positive integer\n`);
      return 2;
    }
    await trackingMain({ data: values.data, json: values.json, frames, modelsDir: values.models });
    return 0;
  }
  if (values.tracks) return tracksMain({ data: values.data, json: values.json, embedder: values.embedder, modelsDir: values.models });
  if (!values.data) {
    process.stderr.write(`eval: --data DIR is required\n${USAGE}\n`);
    return 2;
  }
  const access = accessSchema.parse(undefined);
  const vision = visionSchema.parse(undefined);
  const given = values.threshold !== undefined ? Number(values.threshold) : undefined;
  // one margin for every model compared (the door's own is per model: access/operatingPoint.ts)
  const margin = values.margin !== undefined ? Number(values.margin) : (access.margin ?? 0.02);
  if ((given !== undefined && !Number.isFinite(given)) || !Number.isFinite(margin)) {
    process.stderr.write('eval: --threshold and --margin must be numbers\n');
    return 2;
  }
  const modelsDir = values.models ? resolve(values.models) : defaultModelsDir();
  const manifest = loadModelManifest(modelsDir);
  const names = (values.embedder ?? vision.recognitionModel)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // every name must be an embedder id or family of the manifest (resolveEmbedder would fall back to
  // the default family): an unknown embedder is an error before any work starts
  const fam = (id: string): string => id.replace(/-(int8|fp32)$/, '').replace(/128$/, '');
  const embedders = manifest.models.filter((e) => e.task === 'embedder');
  for (const n of names) {
    if (!embedders.some((e) => e.id === n || fam(e.id) === fam(n)))
      throw new Error(`no embedder '${n}' in the model manifest; available: ${embedders.map((e) => e.id).join(', ')}`);
    resolveEmbedder(manifest, n, undefined);
  }
  const ds = scanDataset(resolve(values.data));
  const clahe = values.clahe ?? vision.clahe;
  const pipelines: FacePipeline[] = [];
  try {
    for (const n of names) {
      pipelines.push(
        await FacePipeline.create({
          modelsDir,
          recognitionModel: n,
          precision: /-(fp32)$/.test(n) ? 'fp32' : 'int8',
          loadBothPrecisions: true,
          clahe,
          antispoof: false,
          liveness: false,
          intraOpThreads: intraOpThreads(vision.intraOpThreads),
          interOpThreads: vision.interOpThreads,
        }),
      );
    }
    const ids = pipelines.flatMap((p) => p.precisions.map((q) => p.embedderId(q)));
    process.stderr.write(`eval: ${ds.images.length} images, models ${ids.join(', ')}\n`);
    const results = await describeDataset(pipelines, ds, progressReporter('eval: images'));
    const configured = { family: vision.recognitionModel.replace(/-(int8|fp32)$/, '').replace(/128$/, ''), threshold: access.threshold };
    const models: ModelToEvaluate[] = ids.map((id) => {
      const t = thresholdFor(id, given, configured, modelsDir);
      if (t) return { id, threshold: t.threshold, thresholdSource: t.source };
      // no saved distribution: this run's own FAR 1e-3 threshold (optimistic on the same data)
      const { scores } = pairScores(results, id);
      const sorted = Float64Array.from(scores.impostor).sort();
      const k = Math.floor(1e-3 * sorted.length);
      return { id, threshold: (sorted[sorted.length - 1 - k] ?? 1) + 1e-9, thresholdSource: 'FAR 1e-3 of this run' };
    });
    process.stderr.write('eval: scoring pairs\n');
    const primary = pipelines[0]!;
    const report = buildReport(ds, results, models, margin, clahe, Object.fromEntries(primary.precisions.map((p) => [p, primary.embedderId(p)])));
    process.stdout.write(fmt(report) + '\n');
    if (values.json) {
      writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
      process.stdout.write(`wrote ${values.json}\n`);
    }
    if (values['save-scores']) {
      const dir = resolve(values['save-scores']);
      mkdirSync(dir, { recursive: true });
      for (const id of ids) {
        const { scores, missedGenuine } = pairScores(results, id);
        const d = scoreDistribution(
          id,
          { name: basename(ds.root), images: ds.images.length, identities: ds.identities.length, distractors: report.distractors },
          scores,
          missedGenuine,
        );
        writeFileSync(join(dir, `${id}.json`), JSON.stringify(d) + '\n');
        process.stdout.write(`wrote ${join(dir, `${id}.json`)}\n`);
      }
    }
  } finally {
    await Promise.all(pipelines.map((p) => p.release()));
  }
  return 0;
}

const isMain = process.argv[1] && /eval[\\/]main\.(js|ts)$/.test(process.argv[1]);
if (isMain) {
  evalMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`eval: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
