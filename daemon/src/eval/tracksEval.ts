/**
 * `npm run eval -- --tracks [--data SHARED_DATA_DIR] [--embedder ID] [--json FILE]`: door
 * approaches simulated from photo sequences and video, single-frame vs track decisions.
 *
 *   photo approaches: faces-lfw, 5 photos per identity. An enrolled person is enrolled from
 *     photo 1 and approaches with photos 2–5 (a 4-frame track); a stranger (an identity not in
 *     the gallery) approaches with all 5.
 *   video approaches: the FOCUS clips (one person, "mahie", not in faces-lfw): enrolled from
 *     the first good frame of clip 1, approaching in 3 s windows of clips 3 and 4 (every 3rd
 *     frame); the same windows are stranger approaches when mahie is not enrolled.
 *   galleries: 10, 100 and 200 people drawn (seeded) from the faces-lfw identities; the last 88
 *     identities of the shuffled list are the strangers for every gallery size (1,000 distinct
 *     people do not exist in the data: 288 identities), plus mahie for the genuine video
 *     approaches.
 *
 * Decisions (threshold = the model's FAR 1e-3 threshold from models/calibration/impostors,
 * margin = access.margin): single-frame = the approach is granted when ANY frame's match
 * decision is `match` (today's door); track = access/trackFusion.ts decideTrack over the
 * approach's frames (K = 3, quality ≥ 0.5; photo approaches of 4–5 frames).
 * Reported: grants per genuine approach (and to the right person), false grants per stranger.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accessSchema } from '../config/schema.js';
import { decideTrack, TRACK_FUSION_DEFAULTS, type TrackFrame } from '../access/trackFusion.js';
import { Gallery } from '../gallery/gallery.js';
import { testDataDir } from '../system/paths.js';
import { defaultModelsDir } from '../vision/modelSet.js';
import { FacePipeline } from '../vision/pipeline.js';
import { scanDataset } from './dataset.js';
import { describeDataset, progressReporter } from './evaluate.js';
import type { ScoreDistribution } from './scoreDistribution.js';
import { videoFrames } from './videoFrames.js';

interface Approach {
  kind: 'photo' | 'video';
  /** who is approaching (identity) */
  who: string;
  frames: TrackFrame[];
}

export interface TrackRow {
  gallery: number;
  kind: 'photo' | 'video';
  genuine: number;
  genuine_granted_frame: number;
  genuine_granted_track: number;
  strangers: number;
  stranger_granted_frame: number;
  stranger_granted_track: number;
}

function shuffle<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  let s = seed >>> 0;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

async function videoApproaches(pipeline: FacePipeline, file: string, everyN: number, maxMs: number): Promise<TrackFrame[][]> {
  const frames: { ts: number; f: TrackFrame }[] = [];
  for await (const fr of videoFrames(file)) {
    if (fr.tsMs > maxMs) break;
    if (fr.index % everyN) continue;
    const r = await pipeline.process(fr.image, { passive: false, retryZoomedOut: true });
    const face = r.faces[0];
    if (face?.embedding) frames.push({ ts: fr.tsMs, f: { embedding: face.embedding, quality: face.quality.overall } });
  }
  const out: TrackFrame[][] = [];
  for (let t = 0; t + 3000 <= (frames.at(-1)?.ts ?? 0); t += 3000) out.push(frames.filter((x) => x.ts >= t && x.ts < t + 3000).map((x) => x.f));
  return out.filter((w) => w.length >= 3);
}

export async function tracksMain(o: { data?: string; json?: string; embedder?: string; modelsDir?: string }): Promise<number> {
  const root = o.data ?? testDataDir();
  const modelsDir = o.modelsDir ?? defaultModelsDir();
  const embedder = o.embedder ?? 'mobilefacenet512';
  const pipeline = await FacePipeline.create({ modelsDir, recognitionModel: embedder, precision: 'int8', antispoof: false, liveness: false });
  const id = pipeline.embedderId('int8');
  const dist = JSON.parse(readFileSync(join(modelsDir, 'calibration', 'impostors', `${id}.json`), 'utf8')) as ScoreDistribution;
  const threshold = dist.impostor.thresholds['1e-3']!;
  const margin = accessSchema.parse(undefined).margin ?? 0.02;
  const opts = { threshold, margin, ...TRACK_FUSION_DEFAULTS };
  try {
    const ds = scanDataset(join(root, 'faces-lfw'));
    ds.images = ds.images.filter((i) => i.identity !== null);
    const results = await describeDataset([pipeline], ds, progressReporter('tracks: faces-lfw'));
    const byId = new Map<string, Float32Array[]>();
    for (const r of results) {
      const e = r.embeddings[id];
      if (r.identity && e) byId.set(r.identity, [...(byId.get(r.identity) ?? []), e]);
    }
    const identities = shuffle(
      [...byId.keys()].filter((k) => (byId.get(k)?.length ?? 0) >= 5),
      13,
    );
    const video = join(root, 'video');
    const enrollClip = await videoApproaches(pipeline, join(video, 'focus_mahie_test_1.avi'), 3, 6000);
    const mahieEnroll = enrollClip[0]?.find((f) => f.quality >= 0.5)?.embedding;
    const mahie = [
      ...(await videoApproaches(pipeline, join(video, 'focus_mahie_test_3.avi'), 3, 30_000)),
      ...(await videoApproaches(pipeline, join(video, 'focus_mahie_test_4_low_fps.avi'), 2, 30_000)),
    ];
    process.stderr.write(`tracks: ${identities.length} identities, ${mahie.length} video approaches\n`);
    const rows: TrackRow[] = [];
    const strangers = identities.slice(200);
    for (const n of [10, 100, 200]) {
      const enrolled = identities.slice(0, n);
      const g = new Gallery(pipeline.embeddingDim);
      const entries = enrolled.map((p) => ({ personId: p, embedding: byId.get(p)![0]! }));
      const search = (probe: Float32Array) => g.search(probe, 2);
      const run = (approaches: Approach[], kind: 'photo' | 'video', genuineIds: Set<string>): TrackRow => {
        const row: TrackRow = {
          gallery: n,
          kind,
          genuine: 0,
          genuine_granted_frame: 0,
          genuine_granted_track: 0,
          strangers: 0,
          stranger_granted_frame: 0,
          stranger_granted_track: 0,
        };
        for (const a of approaches) {
          const frameGrant = a.frames.some((f) => g.match(f.embedding, threshold, margin).decision === 'match');
          const frameRight = a.frames.some((f) => {
            const m = g.match(f.embedding, threshold, margin);
            return m.decision === 'match' && m.personId === a.who;
          });
          const t = decideTrack(a.frames, search, opts);
          if (genuineIds.has(a.who)) {
            row.genuine++;
            if (frameRight) row.genuine_granted_frame++;
            if (t.decision === 'match' && t.personId === a.who) row.genuine_granted_track++;
          } else {
            row.strangers++;
            if (frameGrant) row.stranger_granted_frame++;
            if (t.decision === 'match') row.stranger_granted_track++;
          }
        }
        return row;
      };
      // photo approaches: enrolled people with photos 2–5, the strangers with all five
      g.load(entries);
      const photo: Approach[] = [
        ...enrolled.map((p) => ({
          kind: 'photo' as const,
          who: p,
          frames: byId
            .get(p)!
            .slice(1)
            .map((embedding) => ({ embedding, quality: 1 })),
        })),
        ...strangers.map((p) => ({ kind: 'photo' as const, who: p, frames: byId.get(p)!.map((embedding) => ({ embedding, quality: 1 })) })),
      ];
      rows.push(run(photo, 'photo', new Set(enrolled)));
      // video: mahie as a stranger (not enrolled), then enrolled
      const vid: Approach[] = mahie.map((frames) => ({ kind: 'video', who: 'mahie', frames }));
      const asStranger = run(vid, 'video', new Set());
      if (mahieEnroll) g.load([...entries, { personId: 'mahie', embedding: mahieEnroll }]);
      const asGenuine = run(vid, 'video', new Set(['mahie']));
      rows.push({
        ...asGenuine,
        strangers: asStranger.strangers,
        stranger_granted_frame: asStranger.stranger_granted_frame,
        stranger_granted_track: asStranger.stranger_granted_track,
      });
    }
    const lines = [
      `model ${id}, threshold ${threshold} (FAR 1e-3 on ${dist.dataset.name}), margin ${margin}, track: K=${opts.minFrames}, quality ≥ ${opts.minQuality}`,
    ];
    lines.push('gallery  kind   genuine  granted(frame)  granted(track)  strangers  false grants(frame)  false grants(track)');
    for (const r of rows)
      lines.push(
        `${String(r.gallery).padStart(7)}  ${r.kind.padEnd(5)}  ${String(r.genuine).padStart(7)}  ${String(r.genuine_granted_frame).padStart(14)}  ${String(r.genuine_granted_track).padStart(14)}  ${String(r.strangers).padStart(9)}  ${String(r.stranger_granted_frame).padStart(19)}  ${String(r.stranger_granted_track).padStart(19)}`,
      );
    process.stdout.write(lines.join('\n') + '\n');
    if (o.json) writeFileSync(o.json, JSON.stringify({ model: id, threshold, margin, rows }, null, 1) + '\n');
  } finally {
    await pipeline.release();
  }
  return 0;
}
