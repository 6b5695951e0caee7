import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { accessSchema, visionSchema } from '../config/schema.js';
import { FacePipeline } from '../vision/pipeline.js';
import { scanDataset } from './dataset.js';
import { buildReport, describeDataset, type EvalReport, type Precision } from './evaluate.js';

const USAGE = `usage: npm run eval -- --data DIR [--json FILE] [--threshold T] [--margin M] [--clahe] [--models DIR]

DIR/<identity>/<image>: folders named "distractors" hold impostors without identity;
"group_photos", "no_face" and "labels" are skipped. INT8 and FP32 embedders are evaluated side by side.`;

function fmt(r: EvalReport): string {
  const lines = [`dataset ${r.dataset}: ${r.images} images, ${r.identities} identities, ${r.distractors} distractors (clahe ${r.clahe ? 'on' : 'off'})`];
  lines.push('metric                       int8        fp32');
  const keys = [
    'tar_at_far_1e-2',
    'tar_at_far_1e-3',
    'eer',
    'rank1',
    'distractor_false_accept_rate',
    'detection_failures',
    'genuine_pairs',
    'impostor_pairs',
    'threshold',
    'threshold_at_far_1e-3',
  ] as const;
  for (const k of keys) {
    const v = (p: Precision): string => {
      const x = r[p]?.[k];
      return x === undefined ? '-' : Number.isInteger(x) ? String(x) : x.toFixed(4);
    };
    lines.push(`${k.padEnd(28)} ${v('int8').padStart(8)}    ${v('fp32').padStart(8)}`);
  }
  if (r.detection_failed_images.length) lines.push(`no face found in: ${r.detection_failed_images.join(', ')}`);
  return lines.join('\n');
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
  if (!values.data) {
    process.stderr.write(`eval: --data DIR is required\n${USAGE}\n`);
    return 2;
  }
  const access = accessSchema.parse(undefined);
  const vision = visionSchema.parse(undefined);
  const threshold = values.threshold !== undefined ? Number(values.threshold) : access.threshold;
  const margin = values.margin !== undefined ? Number(values.margin) : access.margin;
  if (!Number.isFinite(threshold) || !Number.isFinite(margin)) {
    process.stderr.write('eval: --threshold and --margin must be numbers\n');
    return 2;
  }
  const ds = scanDataset(resolve(values.data));
  const clahe = values.clahe ?? vision.clahe;
  const pipeline = await FacePipeline.create({
    modelsDir: values.models,
    recognitionModel: vision.recognitionModel,
    precision: 'int8',
    loadBothPrecisions: true,
    clahe,
    antispoof: false,
    liveness: false,
    intraOpThreads: vision.intraOpThreads,
    interOpThreads: vision.interOpThreads,
  });
  try {
    const precisions = pipeline.precisions;
    const results = await describeDataset(pipeline, ds, precisions, (d, t) => {
      if (process.stderr.isTTY) process.stderr.write(`\r${d}/${t} images`);
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const models: Partial<Record<Precision, string>> = {};
    for (const p of precisions) models[p] = pipeline.embedderId(p);
    const report = buildReport(ds, results, models, threshold, margin, clahe);
    process.stdout.write(fmt(report) + '\n');
    if (values.json) {
      writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
      process.stdout.write(`wrote ${values.json}\n`);
    }
  } finally {
    await pipeline.release();
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
