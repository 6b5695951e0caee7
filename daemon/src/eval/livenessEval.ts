/**
 * How the liveness checks behave on the shared clips and spoof samples:
 * `node dist/daemon/src/eval/livenessEval.js [--data DIR] [--json FILE]`.
 * Blinks counted per clip (vs the labelled count) and, on spoof/, each passive policy's
 * bona fide rejection rate and attack acceptance rate.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { livenessSchema } from '../config/schema.js';
import { testDataDir } from '../system/paths.js';
import { decodeImage } from '../vision/decode.js';
import { BlinkDetector } from '../vision/liveness/blinkDetector.js';
import { combinePassive, type PassiveOptions } from '../vision/liveness/passiveCheck.js';
import { FacePipeline } from '../vision/pipeline.js';
import { videoFrames } from './videoFrames.js';

export interface ClipBlinks {
  file: string;
  frames: number;
  framesWithFace: number;
  blinks: number;
  labelled: number | null;
  earSeries: number[];
}

export async function countBlinks(
  pipeline: FacePipeline,
  path: string,
  options: ConstructorParameters<typeof BlinkDetector>[0] = {},
): Promise<Omit<ClipBlinks, 'file' | 'labelled'>> {
  const det = new BlinkDetector({ ...options, timeoutMs: 0 });
  let frames = 0,
    withFace = 0;
  const earSeries: number[] = [];
  for await (const f of videoFrames(path)) {
    frames++;
    const r = await pipeline.process(f.image, { embed: false, passive: false, retryZoomedOut: true, minScore: 0.4 });
    const face = r.faces[0];
    if (!face) {
      earSeries.push(NaN);
      continue;
    }
    withFace++;
    const ear = (face.ear.left + face.ear.right) / 2;
    earSeries.push(ear);
    det.update(f.tsMs, ear);
  }
  return { frames, framesWithFace: withFace, blinks: det.blinks, earSeries };
}

export interface SpoofSample {
  path: string;
  label: 'live' | 'spoof';
  attack: string;
  antispoof: number | null;
  liveness: number | null;
}

export async function scoreSpoofSamples(pipeline: FacePipeline, dir: string): Promise<SpoofSample[]> {
  const rows = readFileSync(join(dir, 'manifest.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  const out: SpoofSample[] = [];
  for (const row of rows) {
    const [path, , label, attack] = row.split(',');
    const img = await decodeImage(readFileSync(join(dir, path!)));
    const s = await pipeline.describeLargestFace(img, undefined, { passive: true });
    out.push({
      path: path!,
      label: label === 'live' ? 'live' : 'spoof',
      attack: attack ?? '',
      antispoof: s?.face.antispoofScore ?? null,
      liveness: s?.face.livenessScore ?? null,
    });
  }
  return out;
}

export function policyRates(
  samples: SpoofSample[],
  combine: PassiveOptions['combine'],
  threshold: number,
): { bpcer: number; apcer: number; live: number; attacks: number } {
  const live = samples.filter((s) => s.label === 'live');
  const att = samples.filter((s) => s.label === 'spoof');
  const pass = (s: SpoofSample): boolean => {
    const v = combinePassive(s.antispoof, s.liveness, combine);
    return v !== null && v >= threshold;
  };
  return {
    bpcer: live.filter((s) => !pass(s)).length / Math.max(1, live.length),
    apcer: att.filter(pass).length / Math.max(1, att.length),
    live: live.length,
    attacks: att.length,
  };
}

async function main(argv: string[]): Promise<void> {
  const dataIdx = argv.indexOf('--data');
  const jsonIdx = argv.indexOf('--json');
  const root = dataIdx >= 0 ? argv[dataIdx + 1]! : testDataDir();
  const pipeline = await FacePipeline.create({ precision: 'int8', intraOpThreads: 2 });
  const cfg = livenessSchema.parse(undefined);
  const labelled: Record<string, number> = { 'dinoman_example_blink2.mp4': 2, 'focus_mahie_test_1.avi': 8 };
  const clips: ClipBlinks[] = [];
  for (const f of readdirSync(join(root, 'video'))
    .filter((x) => /\.(mp4|avi|gif)$/.test(x))
    .sort()) {
    const r = await countBlinks(pipeline, join(root, 'video', f), { earClosed: cfg.earClosed, earOpen: cfg.earOpen });
    clips.push({ file: f, labelled: labelled[f] ?? null, ...r });
    process.stderr.write(`${f}: ${r.blinks} blinks (labelled ${labelled[f] ?? 'n/a'}), face in ${r.framesWithFace}/${r.frames} frames\n`);
  }
  const samples = await scoreSpoofSamples(pipeline, join(root, 'spoof'));
  const policies: Record<string, unknown> = {};
  for (const combine of ['antispoof', 'liveness', 'min', 'mean'] as const) {
    for (const t of [0.3, 0.5, 0.7, 0.9]) policies[`${combine}@${t}`] = policyRates(samples, combine, t);
  }
  await pipeline.release();
  const report = { clips, samples, policies };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  if (jsonIdx >= 0) writeFileSync(argv[jsonIdx + 1]!, JSON.stringify(report, null, 2) + '\n');
}

if (process.argv[1] && /livenessEval\.(js|ts)$/.test(process.argv[1])) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`liveness eval: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
