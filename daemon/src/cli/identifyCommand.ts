import { readFileSync } from 'node:fs';
import { decodeImage, NotAnImageError } from '../vision/decode.js';
import { parseCommandArgs, UsageError } from './args.js';
import { openVision } from './visionContext.js';

/** `blinkd identify IMAGE`: the best match for the largest face, with score, margin and passive liveness scores. */
export async function identifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('identify needs exactly one IMAGE');
  let data: Buffer;
  try {
    data = readFileSync(positionals[0]!);
  } catch (err) {
    throw new UsageError(`cannot read ${positionals[0]}: ${(err as Error).message}`);
  }
  const ctx = await openVision(values.config, true);
  try {
    let img;
    try {
      img = await decodeImage(data);
    } catch (err) {
      if (err instanceof NotAnImageError) {
        process.stderr.write(`blinkd identify: ${positionals[0]}: ${err.message}\n`);
        return 3;
      }
      throw err;
    }
    const still = await ctx.pipeline.describeLargestFace(img, undefined, { passive: true });
    if (!still) {
      if (values.json) process.stdout.write(JSON.stringify({ face: false }) + '\n');
      else process.stdout.write('no face found\n');
      return 1;
    }
    const modelId = ctx.pipeline.embedderId();
    const { threshold, margin } = ctx.operatingPoint.thresholds();
    // The registry's one rule: every enrolled person of this embedder, deactivated ones too — reported with their status.
    const m = ctx.registry.identify(still.face.embedding!, threshold, margin);
    const name = m.person?.name ?? null;
    const status = m.person?.status ?? null;
    const out = {
      face: true,
      decision: m.decision,
      personId: m.decision === 'match' ? m.personId : null,
      name: m.decision === 'match' ? name : null,
      status: m.decision === 'match' ? status : null,
      best: { personId: m.personId, name, status, score: m.score },
      second: { personId: m.secondPersonId, name: m.secondName, score: m.secondScore },
      score: m.score,
      margin: m.margin,
      threshold,
      requiredMargin: margin,
      antispoofScore: still.face.antispoofScore,
      livenessScore: still.face.livenessScore,
      quality: still.face.quality,
      pose: still.face.pose,
      faces: still.faces,
      model: modelId,
      gallery: { people: ctx.registry.searchable() },
    };
    if (values.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    else {
      const f = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));
      process.stdout.write(
        [
          m.decision === 'match'
            ? `match: ${name} (${m.personId})${status === 'DEACTIVATED' ? ' — DEACTIVATED: the door denies this person' : ''}`
            : `no match (${m.decision}; best: ${name ?? '-'})`,
          `score ${f(m.score)} (threshold ${threshold}), margin ${f(m.margin)} over ${m.secondName ?? 'nobody'} (required ${margin})`,
          `passive scores: anti-spoof ${f(still.face.antispoofScore)}, liveness model ${f(still.face.livenessScore)}`,
          `quality ${still.face.quality.overall.toFixed(2)}, yaw ${still.face.pose.yaw.toFixed(0)}°, faces in image ${still.faces}`,
        ].join('\n') + '\n',
      );
    }
    return m.decision === 'match' ? 0 : 1;
  } finally {
    await ctx.close();
  }
}
