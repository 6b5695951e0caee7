import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { enrollFromPhotos } from '../registry/enrollFromPhotos.js';
import { personNameProblem } from '../registry/peopleRegistry.js';
import { Enroller } from '../vision/enroller.js';
import { EnrollError } from '../vision/enrollError.js';
import { parseCommandArgs, UsageError } from './args.js';
import { openVision } from './visionContext.js';

/** `blinkd enroll --name NAME IMAGE...`: enroll a person from 1 or more photos (3–5 recommended). */
export async function enrollCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    config: { type: 'string', short: 'c' },
    name: { type: 'string' },
    'external-id': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (!values.name) throw new UsageError('enroll needs --name NAME');
  const nameProblem = personNameProblem(values.name);
  if (nameProblem) throw new UsageError(`--name: ${nameProblem.replace(/^name: /, '')}`);
  if (positionals.length === 0) throw new UsageError('enroll needs at least one IMAGE (3–5 recommended)');
  const images = positionals.map((p) => {
    try {
      return { name: basename(p), data: readFileSync(p) };
    } catch (err) {
      throw new UsageError(`cannot read ${p}: ${(err as Error).message}`);
    }
  });
  const ctx = await openVision(values.config);
  try {
    const enroller = new Enroller(ctx.pipeline);
    const r = await enrollFromPhotos(async (imgs) => ({ modelId: enroller.modelId, faces: await enroller.analyzeAll(imgs) }), ctx.registry, {
      person: { name: values.name, externalId: values['external-id'] ?? null },
      images,
      source: 'cli',
      actor: 'cli',
      duplicateThreshold: ctx.operatingPoint.thresholds().threshold,
      keepThumbnail: ctx.config.admin.thumbnailRetentionDays > 0,
    });
    if (values.json)
      process.stdout.write(
        JSON.stringify(
          {
            ok: true,
            personId: r.person.id,
            name: r.person.name,
            templates: r.templates,
            model: r.modelId,
            images: r.images.map((i) => ({ name: i.name, quality: i.quality.overall })),
          },
          null,
          2,
        ) + '\n',
      );
    else {
      process.stdout.write(`enrolled ${r.person.name} (${r.person.id}): ${r.templates} template(s), model ${r.modelId}\n`);
      for (const i of r.images)
        process.stdout.write(`  ${i.name}: quality ${i.quality.overall.toFixed(2)}, eye distance ${i.quality.faceSizePx.toFixed(0)} px\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof EnrollError) {
      if (values.json)
        process.stdout.write(JSON.stringify({ ok: false, error: err.kind, message: err.message, image: err.imageIndex, details: err.details }, null, 2) + '\n');
      process.stderr.write(`blinkd enroll: refused (${err.kind}): ${err.message}\n`);
      return 3;
    }
    throw err;
  } finally {
    await ctx.close();
  }
}
