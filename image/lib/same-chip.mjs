// The same aligned face chip embedded on two platforms (image/verify.sh: the x86-64 host writes,
// the arm64 tree checks). The end-to-end identify comparison also feeds each platform's own
// detector and mesh, whose FP32 landmarks differ by ~1e-3 px between the two, so some chip bytes
// differ by 1 and the INT8 network amplifies that; this isolates the embedder: same bytes in, the
// daemon's Embedder class (int8 default and fp32) out. Run from a built release or checkout:
//   node image/lib/same-chip.mjs write OUT.json PHOTO...     detect, align, embed (the host)
//   node image/lib/same-chip.mjs check IN.json [MIN]         embed IN's chips, cosine to IN's
//     embeddings per precision; one JSON line each, then a summary; exit 1 if int8 < MIN (0.999)
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = (p) => import(pathToFileURL(resolve('dist/daemon/src', p)).href);
const [mode, file, ...rest] = process.argv.slice(2);
const PRECISIONS = ['int8', 'fp32'];

// the daemon's own cosine (util/vector.ts)
const { cosine } = await dist('util/vector.js');

if (mode === 'write' && file && rest.length > 0) {
  const { FacePipeline } = await dist('vision/pipeline.js');
  const { decodeImage } = await dist('vision/decode.js');
  const p = await FacePipeline.create({ precision: 'int8', antispoof: false, liveness: false, intraOpThreads: 1, loadBothPrecisions: true });
  if (p.precisions.length !== 2) throw new Error('the pipeline did not load both precisions');
  const faces = [];
  for (const photo of rest) {
    const img = await decodeImage(readFileSync(photo));
    const still = await p.describeLargestFace(img, PRECISIONS);
    if (!still) throw new Error(`no face in ${photo}`);
    const per = {};
    for (const pr of PRECISIONS) {
      const { chip, size } = p.alignChip(img, still.face.landmarks5, pr);
      per[pr] = { size, chip: Buffer.from(chip).toString('base64'), embedding: Array.from(await p.embedChip(chip, pr)) };
    }
    faces.push({ photo: basename(photo), arch: process.arch, ...per });
  }
  await p.release();
  writeFileSync(file, JSON.stringify({ faces }));
  console.log(`${faces.length} chips written to ${file} (${process.arch})`);
} else if (mode === 'check' && file) {
  const min = rest[0] === undefined ? 0.999 : Number(rest[0]);
  const { Embedder } = await dist('vision/models/embedder.js');
  const { defaultModelsDir, loadAndVerify, resolveEmbedder } = await dist('vision/modelSet.js');
  const dir = defaultModelsDir();
  const { manifest } = loadAndVerify(dir, {});
  const { faces } = JSON.parse(readFileSync(file, 'utf8'));
  const worst = { int8: 1, fp32: 1 };
  let identical = 0;
  for (const pr of PRECISIONS) {
    const entry = resolveEmbedder(manifest, undefined, pr);
    const e = await Embedder.load(dir, entry, { intraOpThreads: 1 });
    for (const f of faces) {
      const got = await e.embed(new Uint8Array(Buffer.from(f[pr].chip, 'base64')));
      const cos = cosine(got, f[pr].embedding);
      // same bytes: every float equal to the one the other platform wrote (as JSON numbers)
      const same = got.every((v, k) => v === Math.fround(f[pr].embedding[k]));
      if (same) identical++;
      worst[pr] = Math.min(worst[pr], cos);
      console.log(
        JSON.stringify({
          photo: f.photo,
          model: entry.id,
          sha256: String(entry.sha256).slice(0, 12),
          from: f.arch,
          on: process.arch,
          cosine: Number(cos.toFixed(7)),
          identical: same,
        }),
      );
    }
    await e.release();
  }
  const pass = worst.int8 >= min;
  console.log(
    JSON.stringify({
      chips: faces.length,
      minCosineInt8: Number(worst.int8.toFixed(7)),
      minCosineFp32: Number(worst.fp32.toFixed(7)),
      identical: `${identical}/${2 * faces.length}`,
      required: min,
      pass,
    }),
  );
  process.exit(pass ? 0 : 1);
} else {
  console.error('usage: same-chip.mjs write OUT.json PHOTO... | check IN.json [MIN]');
  process.exit(2);
}
