// Compares the face templates of two blinkd databases enrolled from the same photos in the same
// order (image/verify.sh: x86-64 host vs the arm64 tree): prints one JSON line per template pair
// with its cosine, and exits 1 if any pair is below MIN (default 0.999) or the counts differ.
//   node image/lib/compare-templates.mjs A.db B.db [MIN]
import Database from 'better-sqlite3';

const [a, b, minArg] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: compare-templates.mjs A.db B.db [MIN]');
  process.exit(2);
}
const min = minArg === undefined ? 0.999 : Number(minArg);
const rows = (file) =>
  new Database(file, { readonly: true, fileMustExist: true }).prepare('SELECT model_id, dim, embedding FROM face_templates ORDER BY id').all();
const ra = rows(a);
const rb = rows(b);
if (ra.length === 0 || ra.length !== rb.length) {
  console.error(`template counts differ or are zero: ${ra.length} vs ${rb.length}`);
  process.exit(1);
}
const vec = (r) => new Float32Array(r.embedding.buffer.slice(r.embedding.byteOffset, r.embedding.byteOffset + r.dim * 4));
let worst = 1;
for (let i = 0; i < ra.length; i++) {
  if (ra[i].model_id !== rb[i].model_id || ra[i].dim !== rb[i].dim) {
    console.error(`template ${i}: ${ra[i].model_id}/${ra[i].dim} vs ${rb[i].model_id}/${rb[i].dim}`);
    process.exit(1);
  }
  const x = vec(ra[i]);
  const y = vec(rb[i]);
  let dot = 0,
    nx = 0,
    ny = 0;
  for (let k = 0; k < x.length; k++) {
    dot += x[k] * y[k];
    nx += x[k] * x[k];
    ny += y[k] * y[k];
  }
  const cos = dot / Math.sqrt(nx * ny);
  worst = Math.min(worst, cos);
  console.log(JSON.stringify({ template: i, model: ra[i].model_id, dim: ra[i].dim, cosine: Number(cos.toFixed(6)) }));
}
console.log(JSON.stringify({ templates: ra.length, minCosine: Number(worst.toFixed(6)), required: min, pass: worst >= min }));
process.exit(worst >= min ? 0 : 1);
